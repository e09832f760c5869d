"""decision_app's dependencies, built once and bound to its handlers.

Every process of the service (worker, web app, relay, embedded mode) gets its handlers from here,
through :class:`common.service.runtime.Runtime`; the web side reads the policy in force from the
same place (``runtime.bindings.dependencies.policies``), so what ``GET /decision/policy`` shows is
what the handlers apply: the version an admin published last, or the built-in policy while none
was (decision_app.adapters.policy_store).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from common.messaging.erasure import PersonalData, erasure_handlers
from common.service.runtime import Bindings, Runtime
from decision_app import handlers
from decision_app.adapters.policy_store import REFRESH_SECONDS, PolicyStore
from decision_app.domain.policy import PolicyConfig


@dataclass(frozen=True)
class Dependencies:
    """What decision_app's handlers need besides the message and the unit of work.

    ``policy`` is the built-in policy (this release's :class:`PolicyConfig`, or the one a test
    gives); ``policies`` the policy in force, which is ``policy`` until a version is published.
    """

    policy: PolicyConfig
    policies: PolicyStore


def bootstrap(runtime: Runtime, *, policy: PolicyConfig | None = None,
              refresh_seconds: float = REFRESH_SECONDS) -> Bindings[Dependencies]:
    """decision_app's handler and give-up handler of ``MakeDecision``, bound to the policy in force."""
    builtin = policy or PolicyConfig()
    deps = Dependencies(policy=builtin, policies=PolicyStore(runtime.session_factory, builtin, refresh_seconds))
    return Bindings(
        dependencies=deps,
        handlers={"MakeDecision": partial(handlers.make_decision, policy=deps.policies.current),
                  # Decisions keep no identifier, and their facts are finances only
                  # (handlers.facts_of); the officers' notes of a reviewed case are erased.
                  **erasure_handlers(runtime, PersonalData(erase=handlers.erase))},
        on_give_up={"MakeDecision": handlers.decision_failed},
    )

"""decision_app's dependencies, built once and bound to its handlers.

Every process of the service (worker, web app, relay, embedded mode) gets its handlers from here,
through :class:`common.service.runtime.Runtime`; the web side reads the policy in force from the
same place (``runtime.bindings.dependencies.policy``), so what ``GET /decision/policy`` shows is
what the handlers apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from common.messaging.erasure import PersonalData, erasure_handlers
from common.service.runtime import Bindings, Runtime
from decision_app import handlers
from decision_app.domain.policy import PolicyConfig


@dataclass(frozen=True)
class Dependencies:
    """What decision_app's handlers need besides the message and the unit of work."""

    policy: PolicyConfig


def bootstrap(runtime: Runtime, *, policy: PolicyConfig | None = None) -> Bindings[Dependencies]:
    """decision_app's handler and give-up handler of ``MakeDecision``, bound to the policy in force."""
    deps = Dependencies(policy=policy or PolicyConfig())
    return Bindings(
        dependencies=deps,
        handlers={"MakeDecision": partial(handlers.make_decision, policy=deps.policy),
                  # Decisions keep no identifier: only the shared tables' copies are erased.
                  **erasure_handlers(runtime, PersonalData())},
        on_give_up={"MakeDecision": handlers.decision_failed},
    )

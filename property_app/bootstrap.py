"""property_app's dependencies, built once from the settings and bound to its handlers.

Every process of the service (worker, web app, relay, embedded mode) gets its handlers from here,
through :class:`common.service.runtime.Runtime`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from common.messaging.erasure import PersonalData, erasure_handlers
from common.service.runtime import Bindings, Runtime, TwoPhase
from property_app import handlers


@dataclass(frozen=True)
class Dependencies:
    """What property_app's handlers need besides the message and the unit of work."""

    #: The appraiser's simulated work per valuation (``VALUATION_DELAY_MS``; 0 outside demos).
    delay_seconds: float


def bootstrap(runtime: Runtime) -> Bindings[Dependencies]:
    """property_app's handler and give-up handler of ``ValueProperty``."""
    deps = Dependencies(delay_seconds=runtime.settings.valuation_delay_ms / 1000)
    return Bindings(
        dependencies=deps,
        handlers={"ValueProperty": TwoPhase(partial(handlers.prepare_valuation, delay_seconds=deps.delay_seconds),
                                            handlers.apply_valuation),
                  # Valuations keep no address: only the shared tables' copies are erased.
                  **erasure_handlers(runtime, PersonalData())},
        on_give_up={"ValueProperty": handlers.valuation_failed},
    )

"""loan_app's dependencies, built once from the settings and bound to its handlers.

Every process of the service (worker, web app, relay, embedded mode) gets its handlers from here,
through :class:`common.service.runtime.Runtime`; a test binds other dependencies the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from common.messaging.erasure import PersonalData
from common.service.runtime import Bindings, Runtime
from loan_app import commands, handlers, reviews
from loan_app.adapters.repository import LoanUnitOfWork, ended_before
from loan_app.domain.model import Deadlines

#: Seconds between two searches for applications whose wait passed its deadline.
EXPIRY_INTERVAL_SECONDS = 1.0
#: Seconds between two searches for reviews past their due time (escalated to the supervisors).
ESCALATION_INTERVAL_SECONDS = 5.0


@dataclass(frozen=True)
class Dependencies:
    """What loan_app's handlers need besides the message and the unit of work."""

    uow: Callable[[], LoanUnitOfWork]
    deadlines: Deadlines


def bootstrap(runtime: Runtime) -> Bindings[Dependencies]:
    """loan_app's message handlers and its expiry job, bound to dependencies built from the settings."""
    deps = Dependencies(uow=runtime.uow, deadlines=commands.deadlines(runtime.settings))
    return Bindings(
        dependencies=deps,
        handlers={
            "CreditChecked": partial(handlers.on_credit_checked, deadlines=deps.deadlines),
            "CreditCheckFailed": partial(handlers.on_step_failed, step="credit"),
            "PropertyValued": partial(handlers.on_property_valued, deadlines=deps.deadlines),
            "PropertyValuationFailed": partial(handlers.on_step_failed, step="valuation"),
            "DecisionMade": partial(handlers.on_decision_made, deadlines=deps.deadlines),
            "DecisionFailed": handlers.on_decision_failed,
            "CreditInquiryCancelled": handlers.on_inquiry_cancelled,
            "PersonalDataErased": handlers.on_personal_data_erased,
        },
        periodic=[(EXPIRY_INTERVAL_SECONDS, partial(handlers.expire_overdue, deps.uow)),
                  (ESCALATION_INTERVAL_SECONDS, partial(reviews.escalate_overdue, runtime))],
        # loan_app knows when an application ended: its retention erases it, and the event the
        # aggregate records tells the services that cannot know.
        personal_data=PersonalData(erase=handlers.erase, ended_before=ended_before),
    )

"""credit_app's dependencies, built once from the settings and bound to its handlers.

Every process of the service (worker, web app, relay, embedded mode) gets its handlers from here,
through :class:`common.service.runtime.Runtime`; a test passes another bureau client the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from common.messaging.erasure import PersonalData, erasure_handlers
from common.service.runtime import Bindings, Runtime, TwoPhase
from credit_app import handlers
from credit_app.adapters.bureau import BureauClient
from credit_app.adapters.repository import CreditUnitOfWork


@dataclass(frozen=True)
class Dependencies:
    """What credit_app's handlers need besides the message and the unit of work."""

    uow: Callable[[], CreditUnitOfWork]
    #: One pooled client per process, shared by the worker's threads.
    bureau: BureauClient


def bootstrap(runtime: Runtime, *, bureau: BureauClient | None = None) -> Bindings[Dependencies]:
    """credit_app's handlers and give-up handler, bound to the bureau (``settings.bureau_url`` unless given)."""
    deps = Dependencies(uow=runtime.uow, bureau=bureau or BureauClient(runtime.settings.bureau_url))
    return Bindings(
        dependencies=deps,
        handlers={
            "CheckCredit": TwoPhase(partial(handlers.prepare_check, open_uow=deps.uow, bureau=deps.bureau),
                                    handlers.apply_check),
            "CancelCreditInquiry": partial(handlers.cancel, bureau=deps.bureau),
            "CancelBureauInquiry": partial(handlers.cancel_at_bureau, bureau=deps.bureau),
            # Its inquiries hold no personal data: only the shared tables' copies are erased.
            **erasure_handlers(runtime, PersonalData()),
        },
        on_give_up={"CheckCredit": handlers.check_failed},
    )

"""loan_app's use cases: HTTP commands and the saga's message handlers.

Each function runs inside a unit of work that the caller opened and commits; each loads the
application with its row locked, asks the aggregate to change, and saves it with the messages it
recorded. Views and actors only translate their input and call these.
"""

from __future__ import annotations

from typing import Any

from common.kernel.clock import utcnow
from common.messaging.envelope import Envelope
from common.messaging.uow import UnitOfWork
from common.service.runtime import Handler, Runtime
from loan_app.adapters import repository
from loan_app.commands import deadlines


def expire_overdue(runtime: Runtime) -> int:
    """Periodic: end every application whose wait passed its deadline; returns how many."""
    ended = 0
    with runtime.uow() as uow:
        ids = repository.overdue_ids(uow.session, utcnow())
    for application_id in ids:
        with runtime.uow() as uow:
            application = repository.get(uow.session, application_id, for_update=True)
            if application is not None and application.expire_if_overdue(utcnow()):
                repository.save(uow, application)
                uow.commit()
                ended += 1
    return ended


# --- message handlers ------------------------------------------------------------------------


def message_handlers(runtime: Runtime) -> dict[str, Handler]:
    """``{message name: handler}`` for everything loan_app consumes."""
    limits = deadlines(runtime.settings)

    def apply(envelope: Envelope, uow: UnitOfWork, change: Any) -> None:
        application = repository.get(uow.session, envelope.application_id or "", for_update=True)
        if application is None:  # not ours (or purged): nothing to change
            return
        change(application)
        repository.save(uow, application)

    def on_submitted(envelope: Envelope, uow: UnitOfWork) -> None:
        apply(envelope, uow, lambda a: a.start_evaluation(utcnow(), limits))

    def on_credit_checked(envelope: Envelope, uow: UnitOfWork) -> None:
        data = envelope.data
        apply(envelope, uow, lambda a: a.record_credit(data["round"], data["inquiry_id"], data["assessment"],
                                                       utcnow(), limits))

    def on_property_valued(envelope: Envelope, uow: UnitOfWork) -> None:
        data = envelope.data
        apply(envelope, uow, lambda a: a.record_valuation(data["round"], data["valuation"], utcnow(), limits))

    def on_decision_made(envelope: Envelope, uow: UnitOfWork) -> None:
        data = envelope.data
        apply(envelope, uow, lambda a: a.record_decision(data["round"], data["decision"], utcnow(), limits))

    def failed(step: str) -> Handler:
        def on_failed(envelope: Envelope, uow: UnitOfWork) -> None:
            data = envelope.data
            apply(envelope, uow, lambda a: a.step_failed(step, data["code"], data["message"], utcnow()))

        return on_failed

    def on_decision_failed(envelope: Envelope, uow: UnitOfWork) -> None:
        data = envelope.data
        apply(envelope, uow, lambda a: a.decision_failed(data["round"], data["code"], data["message"], utcnow()))

    def on_cancelled(envelope: Envelope, uow: UnitOfWork) -> None:
        detail = {"inquiry_id": envelope.data["inquiry_id"], "reason": envelope.data["reason"]}
        apply(envelope, uow, lambda a: a.record_compensation("credit", detail, utcnow()))

    return {
        "ApplicationSubmitted": on_submitted,
        "CreditChecked": on_credit_checked,
        "CreditCheckFailed": failed("credit"),
        "PropertyValued": on_property_valued,
        "PropertyValuationFailed": failed("valuation"),
        "DecisionMade": on_decision_made,
        "DecisionFailed": on_decision_failed,
        "CreditInquiryCancelled": on_cancelled,
    }

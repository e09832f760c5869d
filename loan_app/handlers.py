"""loan_app's message handlers: the saga's steps (HTTP commands are in :mod:`loan_app.commands`).

Each function runs inside a unit of work; each loads the application with its row locked and asks
the aggregate to change, and the commit writes the change with the messages the aggregate
recorded. Views and actors only translate their input and call these.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from common.kernel.clock import utcnow
from common.messaging.envelope import Envelope
from common.messaging.erasure import ErasureRequest
from loan_app.adapters.repository import LoanUnitOfWork, confirm_erasure
from loan_app.domain.model import Application, Deadlines

# --- message handlers ------------------------------------------------------------------------
# Each loads the application the message is about, locked, and lets the aggregate change and
# record what follows; the unit of work commits both. Dependencies are keyword arguments, bound
# once by loan_app.bootstrap.


def on_credit_checked(envelope: Envelope, uow: LoanUnitOfWork, *, deadlines: Deadlines) -> None:
    """``CreditChecked``: record the assessment; decide once the valuation is in too."""
    data, application = envelope.data, _locked(uow, envelope)
    if application is not None:
        application.record_credit(data["round"], data["inquiry_id"], data["assessment"], utcnow(), deadlines)


def on_property_valued(envelope: Envelope, uow: LoanUnitOfWork, *, deadlines: Deadlines) -> None:
    """``PropertyValued``: record the valuation; decide once the credit check is in too."""
    data, application = envelope.data, _locked(uow, envelope)
    if application is not None:
        application.record_valuation(data["round"], data["valuation"], utcnow(), deadlines)


def on_decision_made(envelope: Envelope, uow: LoanUnitOfWork, *, deadlines: Deadlines) -> None:
    """``DecisionMade``: approved, rejected, or more information requested."""
    data, application = envelope.data, _locked(uow, envelope)
    if application is not None:
        application.record_decision(data["round"], data["decision"], utcnow(), deadlines)


def on_step_failed(envelope: Envelope, uow: LoanUnitOfWork, *, step: str) -> None:
    """``CreditCheckFailed`` (``step="credit"``) or ``PropertyValuationFailed`` (``"valuation"``)."""
    data, application = envelope.data, _locked(uow, envelope)
    if application is not None:
        application.step_failed(step, data["code"], data["message"], utcnow())


def on_decision_failed(envelope: Envelope, uow: LoanUnitOfWork) -> None:
    """``DecisionFailed``: the decision service gave up on this round."""
    data, application = envelope.data, _locked(uow, envelope)
    if application is not None:
        application.decision_failed(data["round"], data["code"], data["message"], utcnow())


def on_inquiry_cancelled(envelope: Envelope, uow: LoanUnitOfWork) -> None:
    """``CreditInquiryCancelled``: the compensation of the credit check is done."""
    application = _locked(uow, envelope)
    if application is not None:
        detail = {"inquiry_id": envelope.data["inquiry_id"], "reason": envelope.data["reason"]}
        application.record_compensation("credit", detail, utcnow())


def on_personal_data_erased(envelope: Envelope, uow: LoanUnitOfWork) -> None:
    """``PersonalDataErased``: one more service erased the application (shown by ``GET …/erasure``)."""
    confirm_erasure(uow.session, envelope.application_id or "", envelope.data["service"],
                    datetime.fromisoformat(envelope.data["erased_at"]))


def erase(uow: LoanUnitOfWork, application_id: str, request: ErasureRequest) -> None:
    """loan_app's anonymiser (``PersonalData.erase``), in the erasure's unit of work: the
    aggregate forgets the applicant's identity and address and announces it to the others."""
    application = uow.applications.get(application_id, for_update=True)
    if application is not None:
        application.erase_personal_data(request.payload())


def expire_overdue(open_uow: Callable[[], LoanUnitOfWork]) -> int:
    """Periodic: end every application whose wait passed its deadline; returns how many."""
    ended = 0
    with open_uow() as uow:
        ids = uow.applications.overdue_ids(utcnow())
    for application_id in ids:
        with open_uow() as uow:
            application = uow.applications.get(application_id, for_update=True)
            if application is not None and application.expire_if_overdue(utcnow()):
                uow.commit()
                ended += 1
    return ended


def _locked(uow: LoanUnitOfWork, envelope: Envelope) -> Application | None:
    """The application ``envelope`` is about, locked; None if it is not ours (or was purged)."""
    return uow.applications.get(envelope.application_id or "", for_update=True)

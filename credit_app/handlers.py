"""credit_app's message handlers: run a credit check, cancel an inquiry (compensation).

The bureau call happens in :func:`prepare_check`, outside the database transaction (see
:class:`common.service.runtime.TwoPhase`); it is idempotent because the bureau deduplicates inquiries on
our reference, the application id. Cancelling is idempotent too: the first cancellation wins,
later ones change nothing and publish nothing. A check and a cancellation of the same application
may run at once: both insert-or-lock the inquiry row (:func:`common.database.upsert.insert_or_lock`), so the
second waits for the first instead of colliding with it, and a check that finds itself cancelled
undoes its bureau inquiry through ``CancelBureauInquiry``, a message to itself that is retried
until the bureau agrees, instead of a call whose failure would be forgotten on the next attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from common.kernel.clock import utcnow
from common.messaging.envelope import Envelope
from credit_app.adapters.bureau import BureauClient, BureauReport
from credit_app.adapters.orm import CreditInquiry
from credit_app.adapters.repository import CreditUnitOfWork
from credit_app.domain.scoring import BureauRecord, CreditAssessment, assess


def assessment_payload(assessment: CreditAssessment) -> dict[str, Any]:
    """The assessment as JSON-simple values (what CreditChecked carries)."""
    return {
        "score": assessment.score,
        "payment_incidents": assessment.payment_incidents,
        "open_credits": assessment.open_credits,
        "monthly_income": str(assessment.monthly_income),
        "monthly_debts": str(assessment.monthly_debts),
        "debt_to_income": str(assessment.debt_to_income),
        "bureau_found": assessment.bureau_found,
    }


def _assess(envelope: Envelope, report: BureauReport) -> CreditAssessment:
    applicant = envelope.data["applicant"]
    return assess(
        BureauRecord(report.found, report.payment_incidents, report.open_credits, report.open_credits_monthly),
        Decimal(applicant["monthly_income"]),
        Decimal(applicant["monthly_debts"]),
        applicant["employment_status"],
    )


def _completed_row(envelope: Envelope, report: BureauReport, assessment: CreditAssessment) -> dict[str, Any]:
    """The ``credit_inquiries`` row of a check done."""
    return {
        "application_id": envelope.application_id,
        "correlation_id": envelope.correlation_id,
        "status": "COMPLETED",
        "bureau_inquiry_id": report.inquiry_id,
        "bureau_found": assessment.bureau_found,
        "score": assessment.score,
        "payment_incidents": assessment.payment_incidents,
        "open_credits": assessment.open_credits,
        "monthly_income": assessment.monthly_income,
        "monthly_debts": assessment.monthly_debts,
        "debt_to_income": min(assessment.debt_to_income, Decimal("999999.9999")),
        "completed_at": utcnow(),
    }


def prepare_check(envelope: Envelope, *, open_uow: Callable[[], CreditUnitOfWork],
                  bureau: BureauClient) -> BureauReport | None:
    """``CheckCredit``, first phase, no lock held: ask the bureau, unless the application has a row
    or its personal data was erased (it has ended: nobody is left to check, nor anything to send)."""
    application_id, applicant = envelope.application_id or "", envelope.data["applicant"]
    if applicant.get("full_name") is None:
        return None  # erased from loan's outbox before this copy was published
    with open_uow() as uow:
        if uow.erased(application_id) or uow.inquiries.get(application_id) is not None:
            return None  # already checked, cancelled before it ran, given up, or erased: no inquiry
    return bureau.inquire(application_id, applicant["full_name"], applicant["birth_date"])


def apply_check(envelope: Envelope, uow: CreditUnitOfWork, report: BureauReport | None) -> None:
    """``CheckCredit``, second phase: record the check and tell the saga, or undo a check overtaken."""
    if report is None:
        return  # prepare found the inquiry already there: checked, or cancelled before it ran
    assessment = _assess(envelope, report)
    inquiry, inserted = uow.inquiries.insert_or_lock(_completed_row(envelope, report, assessment))
    if inserted:
        inquiry.record("CreditChecked", {
            "inquiry_id": report.inquiry_id,
            "assessment": assessment_payload(assessment),
            "round": envelope.data["round"],
        })
    elif inquiry.status == "CANCELLED" and inquiry.bureau_inquiry_id is None:
        # The cancellation overtook this check while it was at the bureau: undo the inquiry
        # just made. Recorded and sent in this transaction, retried until the bureau agrees.
        inquiry.bureau_inquiry_id = report.inquiry_id
        inquiry.record("CancelBureauInquiry", {"inquiry_id": report.inquiry_id})


def cancel(envelope: Envelope, uow: CreditUnitOfWork, *, bureau: BureauClient) -> None:
    """``CancelCreditInquiry`` (the saga's compensation): the first cancellation wins."""
    reason = envelope.data["reason"]
    inquiry, inserted = uow.inquiries.insert_or_lock({
        "application_id": envelope.application_id, "correlation_id": envelope.correlation_id,
        "status": "CANCELLED", "cancelled_at": utcnow(), "cancel_reason": reason,
    })
    if not inserted:
        if inquiry.status == "CANCELLED":
            return
        if inquiry.bureau_inquiry_id:
            bureau.cancel(inquiry.bureau_inquiry_id)
        inquiry.status = "CANCELLED"
        inquiry.cancelled_at = utcnow()
        inquiry.cancel_reason = reason
    inquiry.record("CreditInquiryCancelled", {"inquiry_id": inquiry.bureau_inquiry_id, "reason": reason})


def cancel_at_bureau(envelope: Envelope, uow: CreditUnitOfWork, *, bureau: BureauClient) -> None:
    """``CancelBureauInquiry`` (to itself): retried until the bureau agrees; a 404 or a second
    cancel count as done."""
    bureau.cancel(envelope.data["inquiry_id"])


def check_failed(envelope: Envelope, uow: CreditUnitOfWork) -> None:
    """Give-up of ``CheckCredit`` (retries spent, or rejected): record the step FAILED, tell the saga.

    The saga fails the application (or it has ended already). The row is what makes an
    operator's later replay of the check do nothing (:func:`prepare_check` asks the bureau only
    when the application has no row): a bureau inquiry made for an application that has ended
    would never be cancelled by anyone.
    """
    inquiry = uow.inquiries.get(envelope.application_id or "", for_update=True)
    if inquiry is None:
        inquiry = CreditInquiry(application_id=envelope.application_id, correlation_id=envelope.correlation_id,
                                status="FAILED")
        uow.inquiries.add(inquiry)
    rejected = envelope.data.get("_error", "").startswith("BureauRejected")
    inquiry.record("CreditCheckFailed", {
        "code": "CREDIT_CHECK_REJECTED" if rejected else "CREDIT_CHECK_UNAVAILABLE",
        "message": "The credit bureau refused the inquiry." if rejected
        else "The credit bureau could not be reached; the credit check was abandoned.",
        "round": envelope.data["round"],
    })

"""Generating and sending what an applicant receives: the schedule documents and the e-mails.

Two background tasks (Dramatiq actors on notify's own queue), fed by notify's outbox:

- ``GenerateDocuments`` (on approval): the repayment schedule as PDF and CSV, built outside the
  transaction, stored once per (application, kind). Then ``SendEmail``, recorded by the e-mail.
- ``SendEmail``: one e-mail per status change that warrants one (``EMAIL_STATUSES``), recorded
  in ``emails`` (unique per application and ``seq``) before it is owed. The SMTP call happens
  outside the transaction and the row is marked SENT after; a message redelivered after that is
  skipped. The one window left (a crash between the SMTP server's acceptance and the commit)
  resends with the same ``Message-ID``, which receiving servers use to drop duplicates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from dramatiq import Retry

from common.kernel.clock import utcnow
from common.messaging.envelope import Envelope
from common.web.auth import issue_applicant_token
from lending.amortization import add_months
from notify_app.adapters.csv_file import schedule_csv
from notify_app.adapters.mailer import Attachment, Mailer
from notify_app.adapters.orm import Document, EmailRecord
from notify_app.adapters.pdf import schedule_pdf
from notify_app.adapters.repository import NotifyUnitOfWork
from notify_app.adapters.templates import compose
from notify_app.domain.emails import EMAIL_STATUSES


@dataclass(frozen=True)
class Built:
    """Documents built outside the transaction: (kind, filename, content type, bytes)."""

    files: tuple[tuple[str, str, str, bytes], ...]


@dataclass(frozen=True)
class StatusLinks:
    """Where an e-mail sends its reader: the application's tracking page, with its applicant token."""

    public_url: str
    secret_key: str

    def status_url(self, application_id: str) -> str:
        token = issue_applicant_token(self.secret_key, application_id)
        return f"{self.public_url}/notify/track/{application_id}#token={token}"


def first_due_date(approved_on: date) -> date:
    """Repayments start on the 5th of the month after next (time to sign and disburse)."""
    return add_months(approved_on.replace(day=5), 2)


def owe_email(uow: NotifyUnitOfWork, application_id: str, seq: int, status: str, correlation_id: str | None) -> None:
    """Called when a status change is logged: record the e-mail it warrants and start the work."""
    if status not in EMAIL_STATUSES:
        return
    email = EmailRecord(application_id=application_id, seq=seq, status_reported=status, status="PENDING",
                        message_id=f"<{application_id}.{seq}@loanflow>")
    uow.emails.add(email)
    next_step = "GenerateDocuments" if status == "APPROVED" else "SendEmail"
    email.record(next_step, {"seq": seq}, correlation_id=correlation_id)


def build_documents(envelope: Envelope, *, open_uow: Callable[[], NotifyUnitOfWork]) -> Built | None:
    """``GenerateDocuments``, first phase, outside the transaction: the schedule of the logged offer."""
    application_id = envelope.application_id or ""
    with open_uow() as uow:
        recipient = uow.recipients.get(application_id)
        notification = uow.notifications.at(application_id, envelope.data["seq"])
        existing = uow.documents.exists(application_id)
    if existing or notification is None or not (notification.payload or {}).get("offer"):
        return None
    offer, language = notification.payload["offer"], (recipient.language if recipient else "en")
    start = first_due_date(notification.at.date())
    return Built((
        ("schedule_pdf", f"schedule-{application_id[:8]}.pdf", "application/pdf",
         schedule_pdf(offer, application_id, (recipient.full_name if recipient else "") or "", start, language)),
        ("schedule_csv", f"schedule-{application_id[:8]}.csv", "text/csv",
         schedule_csv(offer, start, language)),
    ))


def store_documents(envelope: Envelope, uow: NotifyUnitOfWork, built: Built | None) -> None:
    """``GenerateDocuments``, second phase: store each document once, then the e-mail is to be sent."""
    application_id = envelope.application_id or ""
    for kind, filename, content_type, content in (built.files if built else ()):
        if not uow.documents.exists(application_id, kind):
            uow.documents.add(Document(application_id=application_id, kind=kind, filename=filename,
                                       content_type=content_type, content=content, size=len(content),
                                       sha256=hashlib.sha256(content).hexdigest()))
    _send_next(envelope, uow)


def send_email(envelope: Envelope, *, open_uow: Callable[[], NotifyUnitOfWork], mailer: Mailer | None,
               links: StatusLinks) -> str | None:
    """``SendEmail``, first phase, outside the transaction: send a PENDING e-mail; returns its subject
    (``"SKIPPED"`` without an SMTP server, None when there is nothing to send)."""
    application_id, seq = envelope.application_id or "", envelope.data["seq"]
    with open_uow() as uow:
        record = uow.emails.get(application_id, seq)
        recipient = uow.recipients.get(application_id)
        notification = uow.notifications.at(application_id, seq)
        documents = uow.documents.of(application_id)
    if record is None or record.status != "PENDING" or recipient is None or notification is None:
        return None
    if mailer is None:
        return "SKIPPED"
    if not recipient.email:
        raise Retry(delay=500)  # ApplicationSubmitted (the contact details) is not applied yet
    payload = notification.payload or {}
    email = compose(record.status_reported, recipient.language or "en", {
        "full_name": recipient.full_name or "", "application_id": application_id,
        "status_url": links.status_url(application_id),
        "offer": payload.get("offer"), "reasons": payload.get("reasons") or [],
        "requested_information": payload.get("requested_information") or [],
        "deadline": payload.get("deadline"),
    })
    attachments = [Attachment(d.filename, d.content, d.content_type) for d in documents]
    mailer.send(recipient.email, email.subject, email.text, email.html, attachments, record.message_id)
    return email.subject


def mark_sent(envelope: Envelope, uow: NotifyUnitOfWork, subject: str | None) -> None:
    """``SendEmail``, second phase: the e-mail is SENT (or SKIPPED), once."""
    if subject is None:
        return
    record = uow.emails.get(envelope.application_id or "", envelope.data["seq"], for_update=True)
    if record is None or record.status != "PENDING":
        return
    record.status = "SKIPPED" if subject == "SKIPPED" else "SENT"
    record.subject = None if subject == "SKIPPED" else subject
    record.sent_at = utcnow()


def documents_failed(envelope: Envelope, uow: NotifyUnitOfWork) -> None:
    """Give-up of ``GenerateDocuments``: still e-mail the applicant, without the documents."""
    _send_next(envelope, uow)


def email_failed(envelope: Envelope, uow: NotifyUnitOfWork) -> None:
    """Give-up of ``SendEmail``: the e-mail is FAILED, visible to operators."""
    record = uow.emails.get(envelope.application_id or "", envelope.data["seq"])
    if record is not None and record.status == "PENDING":
        record.status = "FAILED"
        record.last_error = envelope.data.get("_error")


def email_owed_again(envelope: Envelope, uow: NotifyUnitOfWork) -> None:
    """Prepare an operator's replay of ``SendEmail``: the give-up marked the e-mail FAILED, and
    :func:`send_email` only sends a PENDING one, so the replay makes it owed again (in the replay's
    own transaction). A SENT e-mail stays SENT: a replay never sends it a second time."""
    record = uow.emails.get(envelope.application_id or "", envelope.data["seq"], for_update=True)
    if record is not None and record.status == "FAILED":
        record.status = "PENDING"


def _send_next(envelope: Envelope, uow: NotifyUnitOfWork) -> None:
    # The e-mail record exists: owe_email wrote it in the transaction that asked for the documents.
    record = uow.emails.get(envelope.application_id or "", envelope.data["seq"])
    if record is not None:
        record.record("SendEmail", {"seq": envelope.data["seq"]}, correlation_id=envelope.correlation_id)

"""Generating and sending what an applicant receives: the schedule documents and the e-mails.

Two background tasks (Dramatiq actors on notify's own queue), fed by notify's outbox:

- ``GenerateDocuments`` (on approval): the repayment schedule as PDF and CSV, built outside the
  transaction, stored once per (application, kind). Then ``SendEmail``.
- ``SendEmail``: one e-mail per status change that warrants one (``EMAIL_STATUSES``), recorded
  in ``emails`` (unique per application and ``seq``) before it is owed. The SMTP call happens
  outside the transaction and the row is marked SENT after; a message redelivered after that is
  skipped. The one window left (a crash between the SMTP server's acceptance and the commit)
  resends with the same ``Message-ID``, which receiving servers use to drop duplicates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from dramatiq import Retry
from sqlalchemy import select

from common.kernel.clock import utcnow
from common.messaging.envelope import Envelope
from common.messaging.uow import UnitOfWork
from common.service.runtime import Handler, Runtime, TwoPhase
from common.web.auth import issue_applicant_token
from lending.amortization import add_months
from notify_app.adapters.csv_file import schedule_csv
from notify_app.adapters.mailer import Attachment, Mailer
from notify_app.adapters.orm import Document, EmailRecord, Notification, Recipient
from notify_app.adapters.pdf import schedule_pdf
from notify_app.adapters.templates import compose
from notify_app.domain.emails import EMAIL_STATUSES


@dataclass(frozen=True)
class Built:
    """Documents built outside the transaction: (kind, filename, content type, bytes)."""

    files: tuple[tuple[str, str, str, bytes], ...]


def first_due_date(approved_on: date) -> date:
    """Repayments start on the 5th of the month after next (time to sign and disburse)."""
    return add_months(approved_on.replace(day=5), 2)


def owe_email(uow: UnitOfWork, application_id: str, seq: int, status: str, correlation_id: str | None) -> None:
    """Called when a status change is logged: record the e-mail it warrants and start the work."""
    if status not in EMAIL_STATUSES:
        return
    uow.session.add(EmailRecord(application_id=application_id, seq=seq, status_reported=status,
                                status="PENDING", message_id=f"<{application_id}.{seq}@loanflow>"))
    next_step = "GenerateDocuments" if status == "APPROVED" else "SendEmail"
    uow.publish(next_step, {"seq": seq}, application_id=application_id, correlation_id=correlation_id)


def _load(session: Any, application_id: str, seq: int) -> tuple[Recipient | None, Notification | None]:
    recipient = session.get(Recipient, application_id)
    notification = session.scalar(select(Notification).where(Notification.application_id == application_id,
                                                             Notification.seq == seq))
    return recipient, notification


def document_handlers(runtime: Runtime, public_url: str) -> dict[str, Handler | TwoPhase]:
    """The handlers of ``GenerateDocuments`` and ``SendEmail``."""
    mailer = Mailer(runtime.settings.smtp) if runtime.settings.extra.get("smtp") != "off" else None

    def build(envelope: Envelope) -> Built | None:
        with runtime.session_factory() as session:
            recipient, notification = _load(session, envelope.application_id or "", envelope.data["seq"])
            existing = session.scalar(select(Document.id).where(Document.application_id == envelope.application_id))
        if existing is not None or notification is None or not (notification.payload or {}).get("offer"):
            return None
        offer, language = notification.payload["offer"], (recipient.language if recipient else "en")
        start = first_due_date(notification.at.date())
        application_id = envelope.application_id or ""
        return Built((
            ("schedule_pdf", f"schedule-{application_id[:8]}.pdf", "application/pdf",
             schedule_pdf(offer, application_id, (recipient.full_name if recipient else "") or "", start, language)),
            ("schedule_csv", f"schedule-{application_id[:8]}.csv", "text/csv",
             schedule_csv(offer, start, language)),
        ))

    def store(envelope: Envelope, uow: UnitOfWork, built: Built | None) -> None:
        application_id = envelope.application_id or ""
        for kind, filename, content_type, content in (built.files if built else ()):
            if uow.session.scalar(select(Document.id).where(Document.application_id == application_id,
                                                            Document.kind == kind)) is None:
                uow.session.add(Document(application_id=application_id, kind=kind, filename=filename,
                                         content_type=content_type, content=content, size=len(content),
                                         sha256=hashlib.sha256(content).hexdigest()))
        uow.publish("SendEmail", {"seq": envelope.data["seq"]}, application_id=application_id,
                    correlation_id=envelope.correlation_id)

    def send(envelope: Envelope) -> str | None:
        application_id, seq = envelope.application_id or "", envelope.data["seq"]
        with runtime.session_factory() as session:
            record = session.scalar(select(EmailRecord).where(EmailRecord.application_id == application_id,
                                                              EmailRecord.seq == seq))
            recipient, notification = _load(session, application_id, seq)
            documents = session.scalars(select(Document).where(Document.application_id == application_id)).all()
        if record is None or record.status != "PENDING" or recipient is None or notification is None:
            return None
        if mailer is None:
            return "SKIPPED"
        if not recipient.email:
            raise Retry(delay=500)  # ApplicationSubmitted (the contact details) is not applied yet
        payload = notification.payload or {}
        token = issue_applicant_token(runtime.settings.secret_key, application_id)
        email = compose(record.status_reported, recipient.language or "en", {
            "full_name": recipient.full_name or "", "application_id": application_id,
            "status_url": f"{public_url}/notify/track/{application_id}#token={token}",
            "offer": payload.get("offer"), "reasons": payload.get("reasons") or [],
            "requested_information": payload.get("requested_information") or [],
            "deadline": payload.get("deadline"),
        })
        attachments = [Attachment(d.filename, d.content, d.content_type) for d in documents]
        mailer.send(recipient.email, email.subject, email.text, email.html, attachments, record.message_id)
        return email.subject

    def mark_sent(envelope: Envelope, uow: UnitOfWork, subject: str | None) -> None:
        if subject is None:
            return
        record = uow.session.scalar(select(EmailRecord).where(EmailRecord.application_id == envelope.application_id,
                                                              EmailRecord.seq == envelope.data["seq"])
                                    .with_for_update())
        if record is None or record.status != "PENDING":
            return
        record.status = "SKIPPED" if subject == "SKIPPED" else "SENT"
        record.subject = None if subject == "SKIPPED" else subject
        record.sent_at = utcnow()

    return {"GenerateDocuments": TwoPhase(build, store), "SendEmail": TwoPhase(send, mark_sent)}


def document_give_ups(runtime: Runtime) -> dict[str, Handler]:
    """When document generation or sending is given up: still e-mail, or record the failure."""

    def documents_failed(envelope: Envelope, uow: UnitOfWork) -> None:
        uow.publish("SendEmail", {"seq": envelope.data["seq"]}, application_id=envelope.application_id,
                    correlation_id=envelope.correlation_id)

    def email_failed(envelope: Envelope, uow: UnitOfWork) -> None:
        record = uow.session.scalar(select(EmailRecord).where(EmailRecord.application_id == envelope.application_id,
                                                              EmailRecord.seq == envelope.data["seq"]))
        if record is not None and record.status == "PENDING":
            record.status = "FAILED"
            record.last_error = envelope.data.get("_error")

    return {"GenerateDocuments": documents_failed, "SendEmail": email_failed}


def document_replays(runtime: Runtime) -> dict[str, Handler]:
    """Prepare an operator's replay of ``SendEmail``: the give-up marked the e-mail FAILED, and
    ``send`` only sends a PENDING one, so the replay makes it owed again (in the replay's own
    transaction). A SENT e-mail stays SENT: a replay never sends it a second time."""

    def email_owed_again(envelope: Envelope, uow: UnitOfWork) -> None:
        record = uow.session.scalar(select(EmailRecord).where(EmailRecord.application_id == envelope.application_id,
                                                              EmailRecord.seq == envelope.data["seq"])
                                    .with_for_update())
        if record is not None and record.status == "FAILED":
            record.status = "PENDING"

    return {"SendEmail": email_owed_again}

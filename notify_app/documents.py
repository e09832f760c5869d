"""Generating and sending what an applicant receives: the schedule documents and the e-mails.

Background tasks (Dramatiq actors on notify's own ``documents`` lane), fed by notify's outbox:

- ``SendEmail``: one e-mail per status change that warrants one (``EMAIL_STATUSES``), recorded
  in ``emails`` (unique per application and ``seq``) before it is owed. The SMTP call happens
  outside the transaction and the row is marked SENT after; a message redelivered after that is
  skipped. The one window left (a crash between the SMTP server's acceptance and the commit)
  resends with the same ``Message-ID``, which receiving servers use to drop duplicates. For an
  approval it first builds the repayment schedule (PDF and CSV) from the logged offer, attaches
  it, and stores it once per (application, kind) in the transaction that marks the e-mail sent:
  one message and one pass over the rows per approval (it used to be two tasks, the documents'
  then the e-mail's, which re-read what the first had just written; the lane was the largest
  CPU share of the whole pipeline).
- ``GenerateDocuments``: the documents alone, when ``SendEmail`` could not have them: the
  schedule failed to build (the e-mail went without it), or the e-mail was given up. It retries
  and is dead-lettered on its own, and a replay builds them (docs/operations.md). A message
  queued before ``SendEmail`` built the documents itself still leads to the e-mail.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from dramatiq import Retry

from common.kernel.clock import utcnow
from common.messaging.envelope import Envelope
from common.web.applicant_access import issue_applicant_token
from lending.amortization import add_months
from notify_app.adapters.csv_file import schedule_csv
from notify_app.adapters.mailer import Attachment, Mailer
from notify_app.adapters.orm import Document, EmailRecord, Notification, Recipient
from notify_app.adapters.repository import NotifyUnitOfWork
from notify_app.adapters.templates import compose
from notify_app.domain.emails import EMAIL_STATUSES
from notify_app.domain.schedule import schedule_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Built:
    """Documents built outside the transaction: (kind, filename, content type, bytes)."""

    files: tuple[tuple[str, str, str, bytes], ...]

    def attachments(self) -> list[Attachment]:
        return [Attachment(filename, content, content_type) for _, filename, content_type, content in self.files]


@dataclass(frozen=True)
class StatusLinks:
    """Where an e-mail sends its reader: the application's tracking page, with an applicant token.

    The token goes in the URL's fragment (``#token=``), which browsers never send to a server:
    it reaches no proxy's or server's log, and the page's script reads it (notify_app/static/track.js).
    """

    public_url: str
    secret_key: str

    def token(self, application_id: str, generation: int) -> str:
        """A fresh token of ``generation`` (the applicant's address is the one it is sent to)."""
        return issue_applicant_token(self.secret_key, application_id, generation)

    def status_url(self, application_id: str, generation: int | None) -> str:
        """The page, opened by a token of ``generation``; ``None`` (the tokens were revoked): the
        page alone, which offers to send a new token to the applicant's address."""
        page = f"{self.public_url}/notify/track/{application_id}"
        return page if generation is None else f"{page}#token={self.token(application_id, generation)}"


def valid_generation(recipient: Recipient) -> int | None:
    """The token generation an e-mail to ``recipient`` may carry, ``None`` when notify knows every
    token to be revoked (an e-mail must not undo a revocation)."""
    generation, valid_from = recipient.access_generation or 1, recipient.access_valid_from or 1  # 1 until told
    return generation if valid_from <= generation else None


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
    email.record("SendEmail", {"seq": seq}, correlation_id=correlation_id)


def schedule_documents(application_id: str, notification: Notification | None,
                       recipient: Recipient | None) -> Built | None:
    """The schedule of the offer logged in ``notification`` as PDF and CSV (None without an offer).

    Raises:
      ScheduleMismatch, ValueError: the offer contradicts its schedule, or is malformed.
    """
    if notification is None or not (notification.payload or {}).get("offer"):
        return None
    # Imported here, not at the top: fpdf2 brings fontTools, Pillow and NumPy (~36 MiB resident)
    # into every process that imports this module, and only the one that renders a schedule
    # needs them (notify's web processes and its status-change worker never do).
    from notify_app.adapters.pdf import schedule_pdf

    offer, language = notification.payload["offer"], (recipient.language if recipient else "en")
    start = first_due_date(notification.at.date())
    rows = schedule_rows(offer, start)  # computed and checked against the offer once, for both files
    full_name = (recipient.full_name if recipient else "") or ""
    return Built((
        ("schedule_pdf", f"schedule-{application_id[:8]}.pdf", "application/pdf",
         schedule_pdf(offer, application_id, full_name, start, language, rows)),
        ("schedule_csv", f"schedule-{application_id[:8]}.csv", "text/csv", schedule_csv(offer, start, language, rows)),
    ))


def build_documents(envelope: Envelope, *, open_uow: Callable[[], NotifyUnitOfWork]) -> Built | None:
    """``GenerateDocuments``, first phase, outside the transaction: the schedule of the logged offer."""
    application_id = envelope.application_id or ""
    with open_uow() as uow:
        erased = uow.erased(application_id)
        recipient = uow.recipients.get(application_id)
        notification = uow.notifications.at(application_id, envelope.data["seq"])
        existing = uow.documents.exists(application_id)
    return None if existing or erased else schedule_documents(application_id, notification, recipient)


def store_documents(envelope: Envelope, uow: NotifyUnitOfWork, built: Built | None) -> None:
    """``GenerateDocuments``, second phase: store each document once, then the e-mail if still owed
    (neither once the application's personal data is erased)."""
    if uow.erased(envelope.application_id):
        return
    _store(uow, envelope.application_id or "", built)
    _send_next(envelope, uow)


@dataclass(frozen=True)
class Sent:
    """What the SMTP phase of ``SendEmail`` did: the subject (``"SKIPPED"`` without an SMTP
    server), the documents it built (to store), and whether they failed to build."""

    subject: str
    built: Built | None = None
    documents_failed: bool = False


def send_email(envelope: Envelope, *, open_uow: Callable[[], NotifyUnitOfWork], mailer: Mailer | None,
               links: StatusLinks) -> Sent | None:
    """``SendEmail``, first phase, outside the transaction: send a PENDING e-mail, an approval's
    with its schedule (built now unless stored already); None when there is nothing to send."""
    application_id, seq = envelope.application_id or "", envelope.data["seq"]
    with open_uow() as uow:
        if uow.erased(application_id):
            return None  # nobody to write to (the erasure marked the e-mail SKIPPED)
        record = uow.emails.get(application_id, seq)
        recipient = uow.recipients.get(application_id)
        notification = uow.notifications.at(application_id, seq)
        approval = record is not None and record.status == "PENDING" and record.status_reported == "APPROVED"
        stored = [Attachment(d.filename, d.content, d.content_type) for d in uow.documents.of(application_id)
                  ] if approval else []
    if record is None or record.status != "PENDING" or recipient is None or notification is None:
        return None
    if mailer is not None and not recipient.email:
        raise Retry(delay=500)  # ApplicationSubmitted (the contact details) is not applied yet
    built, failed = (None, False) if stored or not approval else _try_build(application_id, notification, recipient)
    if mailer is None:
        return Sent("SKIPPED", built, failed)
    attachments = stored or (built.attachments() if built else [])
    payload = notification.payload or {}
    email = compose(record.status_reported, recipient.language or "en", {
        "full_name": recipient.full_name or "", "application_id": application_id,
        "status_url": links.status_url(application_id, valid_generation(recipient)),
        "offer": payload.get("offer"), "reasons": payload.get("reasons") or [],
        "requested_information": payload.get("requested_information") or [],
        "deadline": payload.get("deadline"), "review": payload.get("review"),
    })
    mailer.send(recipient.email or "", email.subject, email.text, email.html, attachments, record.message_id)
    return Sent(email.subject, built, failed)


def mark_sent(envelope: Envelope, uow: NotifyUnitOfWork, sent: Sent | None) -> None:
    """``SendEmail``, second phase: the documents stored once, the e-mail SENT (or SKIPPED) once."""
    application_id = envelope.application_id or ""
    if sent is None or uow.erased(application_id):
        return  # erased while it was sent: no documents stored (the erasure settled the e-mail)
    _store(uow, application_id, sent.built)
    record = uow.emails.get(application_id, envelope.data["seq"], for_update=True)
    if record is None or record.status != "PENDING":
        return
    record.status = "SKIPPED" if sent.subject == "SKIPPED" else "SENT"
    record.subject = None if sent.subject == "SKIPPED" else sent.subject
    record.sent_at = utcnow()
    if sent.documents_failed:  # the e-mail went without them: built apart, retried, dead-lettered
        record.record("GenerateDocuments", {"seq": envelope.data["seq"]}, correlation_id=envelope.correlation_id)


def _try_build(application_id: str, notification: Notification, recipient: Recipient) -> tuple[Built | None, bool]:
    """The approval's documents, or (None, True) when the schedule cannot be built: the applicant
    is told of the approval anyway, and ``GenerateDocuments`` keeps the failure for operators."""
    try:
        return schedule_documents(application_id, notification, recipient), False
    except ValueError:
        log.exception("schedule documents not built; the e-mail goes without them",
                      extra={"application_id": application_id})
        return None, True


def _store(uow: NotifyUnitOfWork, application_id: str, built: Built | None) -> None:
    """Each document once per (application, kind), however often the message is delivered."""
    if built is None:
        return
    files = built.files
    if uow.documents.exists(application_id):  # a redelivery, or GenerateDocuments got there first
        files = tuple(file for file in files if not uow.documents.exists(application_id, file[0]))
    for kind, filename, content_type, content in files:
        uow.documents.add(Document(application_id=application_id, kind=kind, filename=filename,
                                   content_type=content_type, content=content, size=len(content),
                                   sha256=hashlib.sha256(content).hexdigest()))


def documents_failed(envelope: Envelope, uow: NotifyUnitOfWork) -> None:
    """Give-up of ``GenerateDocuments``: an e-mail still owed goes without the documents."""
    _send_next(envelope, uow)


def email_failed(envelope: Envelope, uow: NotifyUnitOfWork) -> None:
    """Give-up of ``SendEmail``: the e-mail is FAILED, visible to operators; an approval's
    documents, built in the attempts but stored only with a sent e-mail, are built apart, so the
    applicant can still download them from the tracking page."""
    application_id = envelope.application_id or ""
    record = uow.emails.get(application_id, envelope.data["seq"])
    if record is not None and record.status == "PENDING":
        record.status = "FAILED"
        record.last_error = envelope.data.get("_error")
        if record.status_reported == "APPROVED" and not uow.documents.exists(application_id):
            record.record("GenerateDocuments", {"seq": envelope.data["seq"]}, correlation_id=envelope.correlation_id)


def email_owed_again(envelope: Envelope, uow: NotifyUnitOfWork) -> None:
    """Prepare an operator's replay of ``SendEmail``: the give-up marked the e-mail FAILED, and
    :func:`send_email` only sends a PENDING one, so the replay makes it owed again (in the replay's
    own transaction). A SENT e-mail stays SENT: a replay never sends it a second time."""
    if uow.erased(envelope.application_id):
        return  # nobody to write to any more
    record = uow.emails.get(envelope.application_id or "", envelope.data["seq"], for_update=True)
    if record is not None and record.status == "FAILED":
        record.status = "PENDING"


def _send_next(envelope: Envelope, uow: NotifyUnitOfWork) -> None:
    # Only a message queued before SendEmail built the documents itself finds the e-mail still owed.
    record = uow.emails.get(envelope.application_id or "", envelope.data["seq"])
    if record is not None and record.status == "PENDING":
        record.record("SendEmail", {"seq": envelope.data["seq"]}, correlation_id=envelope.correlation_id)

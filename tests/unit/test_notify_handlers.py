"""notify_app's handlers on an in-memory unit of work: the ordered log, the e-mails owed, documents, sending."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest

from common.messaging.contracts import consumed_by
from common.messaging.erasure import ErasureRequest
from common.service.runtime import Runtime
from notify_app import documents, handlers
from notify_app.adapters.orm import Document, EmailRecord, Notification, Recipient
from notify_app.bootstrap import bootstrap
from notify_app.documents import StatusLinks
from notify_app.service import definition
from tests.conftest import make_settings
from tests.unit.fakes import FakeRepository, FakeUnitOfWork, applied, envelope

SETTINGS = make_settings("notify", "sqlite://", extra={"smtp": "off"})
LINKS = StatusLinks(public_url="http://loanflow.test", secret_key="k" * 32)
AT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
OFFER = {"amount": "200000", "duration_months": 240, "annual_rate": "0.0355", "monthly_payment": "1165.06",
         "monthly_insurance": "50.00", "total_interest": "79616.01", "total_cost": "279616.01"}
CONTACT = {"full_name": "Alice Propre", "email": "alice@example.org", "language": "fr"}


class FakeRecipients(FakeRepository):
    def get(self, application_id: str) -> Recipient | None:
        return self.find(application_id=application_id)

    def _row(self, application_id: str) -> Recipient:
        if self.get(application_id) is None:
            self.add(Recipient(application_id=application_id, summary={}, last_seq=0, language="en"))
        return self.get(application_id)

    def submitted(self, application_id: str, **contact: Any) -> None:
        recipient = self._row(application_id)
        for name, value in contact.items():
            setattr(recipient, name, value)

    def advance(self, application_id: str, seq: int, changes: dict[str, Any]) -> int:
        recipient = self._row(application_id)
        last_seq = recipient.last_seq
        if last_seq == seq - 1:
            for name, value in {**changes, "last_seq": seq}.items():
                setattr(recipient, name, value)
        return last_seq

    def forget_contact(self, application_id: str) -> None:
        for row in self.rows:
            if row.application_id == application_id:
                row.full_name = row.email = None


class FakeNotifications(FakeRepository):
    def at(self, application_id: str, seq: int) -> Notification | None:
        return self.find(application_id=application_id, seq=seq)

    def log(self, **values: Any) -> int:
        self.add(Notification(id=len(self.rows) + 1, **values))
        return len(self.rows)


class FakeEmails(FakeRepository):
    def get(self, application_id: str, seq: int, *, for_update: bool = False) -> EmailRecord | None:
        return self.find(application_id=application_id, seq=seq)

    def forget(self, application_id: str) -> None:
        for row in self.rows:
            if row.application_id == application_id:
                row.last_error = None
                if row.status == "PENDING":
                    row.status, row.last_error = "SKIPPED", "personal data erased before it was sent"


class FakeDocuments(FakeRepository):
    def of(self, application_id: str) -> Sequence[Document]:
        return [row for row in self.rows if row.application_id == application_id]

    def exists(self, application_id: str, kind: str | None = None) -> bool:
        return any(kind in (None, row.kind) for row in self.of(application_id))

    def delete(self, application_id: str) -> None:
        self.rows = [row for row in self.rows if row.application_id != application_id]


def notify_uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(recipients=FakeRecipients, notifications=FakeNotifications, emails=FakeEmails,
                          documents=FakeDocuments)


class FakeMailer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, list[str], str]] = []

    def send(self, to: str, subject: str, text: str, html: str, attachments: list[Any], message_id: str) -> None:
        self.sent.append((to, subject, [a.filename for a in attachments], message_id))


@pytest.fixture
def uow() -> FakeUnitOfWork:
    work = notify_uow()
    applied(handlers.on_submitted, envelope("ApplicationSubmitted", {"summary": {"city": "Lyon"}, "contact": CONTACT}),
            work)
    return work


def change(uow: FakeUnitOfWork, seq: int, status: str, **payload: Any) -> FakeUnitOfWork:
    data = {"seq": seq, "status": status, "previous_status": None, "cause": "test", "at": AT.isoformat(),
            "reasons": [], "summary": {"city": "Lyon"}, **payload}
    return applied(partial(handlers.on_status_changed, settings=SETTINGS), envelope("ApplicationStatusChanged", data),
                   uow)


def test_status_changes_are_logged_once_in_order(uow: FakeUnitOfWork) -> None:
    change(uow, 1, "SUBMITTED")
    change(uow, 1, "SUBMITTED")  # redelivered
    with pytest.raises(handlers.PredecessorMissing):
        change(uow, 3, "DECIDING")
    change(uow, 2, "EVALUATING")
    assert [n.seq for n in uow.notifications.rows] == [1, 2]
    recipient = uow.recipients.rows[0]
    assert (recipient.full_name, recipient.language, recipient.last_seq, recipient.status) == (
        "Alice Propre", "fr", 2, "EVALUATING")
    assert uow.outbox == [] and uow.emails.rows == []  # no e-mail for these statuses


def test_a_rejection_or_an_approval_owes_one_email(uow: FakeUnitOfWork) -> None:
    change(uow, 1, "REJECTED", reasons=[{"code": "DTI_TOO_HIGH", "message": "too high"}])
    other = notify_uow()
    change(other, 1, "APPROVED", offer=OFFER)
    assert [(e.seq, e.status, e.message_id) for e in uow.emails.rows] == [(1, "PENDING", "<app-1.1@loanflow>")]
    assert [(m.name, m.payload, m.correlation_id) for m in uow.outbox] == [("SendEmail", {"seq": 1}, "app-1")]
    assert other.sent() == ["SendEmail"]  # the e-mail builds the documents it attaches


def send(uow: FakeUnitOfWork, mailer: FakeMailer | None) -> documents.Sent | None:
    """``SendEmail``'s two phases, as the consumer runs them; returns what the first returned."""
    message = envelope("SendEmail", {"seq": 1})
    sent = documents.send_email(message, open_uow=lambda: uow, mailer=mailer, links=LINKS)  # type: ignore[arg-type]
    applied(documents.mark_sent, message, uow, sent)
    return sent


def test_an_approval_email_builds_attaches_and_stores_the_documents_once(uow: FakeUnitOfWork) -> None:
    change(uow, 1, "APPROVED", offer=OFFER).outbox.clear()
    mailer = FakeMailer()
    sent = send(uow, mailer)
    assert sent is not None and sent.built is not None
    [(to, subject, attached, message_id)] = mailer.sent
    assert (to, subject, message_id) == ("alice@example.org", sent.subject, "<app-1.1@loanflow>")
    assert attached == ["schedule-app-1.pdf", "schedule-app-1.csv"]
    assert [d.kind for d in uow.documents.rows] == ["schedule_pdf", "schedule_csv"]
    assert uow.documents.rows[0].content.startswith(b"%PDF") and uow.emails.rows[0].status == "SENT"
    applied(documents.mark_sent, envelope("SendEmail", {"seq": 1}), uow, sent)  # redelivered after the SMTP call
    assert len(uow.documents.rows) == 2 and uow.sent() == []
    assert send(uow, mailer) is None and len(mailer.sent) == 1  # redelivered after the commit: skipped


def test_documents_stored_before_the_email_are_attached_not_rebuilt(uow: FakeUnitOfWork) -> None:
    change(uow, 1, "APPROVED", offer=OFFER).outbox.clear()
    message = envelope("GenerateDocuments", {"seq": 1})
    built = documents.build_documents(message, open_uow=lambda: uow)  # type: ignore[arg-type]
    assert built is not None and [f[0] for f in built.files] == ["schedule_pdf", "schedule_csv"]
    applied(documents.store_documents, message, uow, built)
    applied(documents.store_documents, message, uow, built)  # redelivered: nothing stored twice
    assert [d.kind for d in uow.documents.rows] == ["schedule_pdf", "schedule_csv"]
    assert uow.sent() == ["SendEmail", "SendEmail"]  # a message queued before the merge: the e-mail is owed
    assert documents.build_documents(message, open_uow=lambda: uow) is None  # type: ignore[arg-type]
    mailer = FakeMailer()
    sent = send(uow, mailer)
    assert sent is not None and sent.built is None
    assert mailer.sent[0][2] == ["schedule-app-1.pdf", "schedule-app-1.csv"] and len(uow.documents.rows) == 2


def test_a_schedule_that_cannot_be_built_leaves_the_email_and_a_task_for_the_documents(uow: FakeUnitOfWork) -> None:
    change(uow, 1, "APPROVED", offer={**OFFER, "total_interest": "1.00"}).outbox.clear()
    mailer = FakeMailer()
    sent = send(uow, mailer)
    assert sent is not None and sent.documents_failed
    assert mailer.sent[0][2] == [] and uow.emails.rows[0].status == "SENT" and uow.documents.rows == []
    assert uow.sent() == ["GenerateDocuments"]  # retried and dead-lettered on its own, for operators
    uow.outbox.clear()
    applied(documents.documents_failed, envelope("GenerateDocuments", {"seq": 1}), uow)
    assert uow.sent() == []  # the e-mail was sent: its give-up sends nothing more


def test_without_smtp_the_email_is_recorded_skipped_and_the_documents_stored(uow: FakeUnitOfWork) -> None:
    change(uow, 1, "EXPIRED")
    assert send(uow, None) == documents.Sent("SKIPPED")
    assert (uow.emails.rows[0].status, uow.emails.rows[0].subject) == ("SKIPPED", None)
    other = notify_uow()
    applied(handlers.on_submitted, envelope("ApplicationSubmitted", {"summary": {}, "contact": CONTACT}), other)
    change(other, 1, "APPROVED", offer=OFFER)
    send(other, None)
    assert other.emails.rows[0].status == "SKIPPED" and len(other.documents.rows) == 2


def test_give_ups_still_email_or_record_the_failure_and_a_replay_owes_it_again(uow: FakeUnitOfWork) -> None:
    change(uow, 1, "APPROVED", offer=OFFER).outbox.clear()
    applied(documents.documents_failed, envelope("GenerateDocuments", {"seq": 1}), uow)
    assert uow.sent() == ["SendEmail"]  # queued before the merge, e-mail still owed: without the documents
    uow.outbox.clear()
    applied(documents.email_failed, envelope("SendEmail", {"seq": 1, "_error": "MailerRejected: 550"}), uow)
    assert (uow.emails.rows[0].status, uow.emails.rows[0].last_error) == ("FAILED", "MailerRejected: 550")
    assert uow.sent() == ["GenerateDocuments"]  # the approval's documents, downloadable all the same
    applied(documents.email_owed_again, envelope("SendEmail", {"seq": 1}), uow)
    assert uow.emails.rows[0].status == "PENDING"


def test_the_anonymiser_forgets_the_contact_and_documents_and_owes_no_email(uow: FakeUnitOfWork) -> None:
    change(uow, 1, "APPROVED", offer=OFFER)
    send(uow, None)  # smtp off: SKIPPED, documents stored
    change(uow, 2, "WITHDRAWN")  # (not a real path: an e-mail left owed)
    assert [e.status for e in uow.emails.rows] == ["SKIPPED", "PENDING"] and len(uow.documents.rows) == 2
    handlers.erase(uow, "app-1", ErasureRequest("request", AT))
    recipient = uow.recipients.rows[0]
    assert (recipient.full_name, recipient.email, recipient.language, recipient.status) == (None, None, "fr",
                                                                                          "WITHDRAWN")
    assert uow.documents.rows == [] and [e.status for e in uow.emails.rows] == ["SKIPPED", "SKIPPED"]
    assert [n.seq for n in uow.notifications.rows] == [1, 2]  # the log holds no personal data


def test_once_erased_no_contact_no_email_no_documents() -> None:
    work = notify_uow()
    work.erased_ids.add("app-1")  # the erasure overtook the application's other messages
    applied(handlers.on_submitted, envelope("ApplicationSubmitted", {"summary": {}, "contact": CONTACT}), work)
    change(work, 1, "APPROVED", offer=OFFER)
    recipient = work.recipients.rows[0]
    assert (recipient.full_name, recipient.email, recipient.status) == (None, None, "APPROVED")
    assert work.emails.rows == [] and work.outbox == []
    message = envelope("GenerateDocuments", {"seq": 1})
    assert documents.build_documents(message, open_uow=lambda: work) is None  # type: ignore[arg-type]
    applied(documents.store_documents, message, work, documents.schedule_documents(
        "app-1", work.notifications.rows[0], recipient))
    assert work.documents.rows == []


def test_the_bootstrap_binds_handlers_give_ups_and_the_replay() -> None:
    rt = Runtime(definition(), SETTINGS)
    try:
        bindings = bootstrap(rt)
        assert set(bindings.handlers) == {spec.name for spec in consumed_by("notify")}
        assert set(bindings.on_give_up) == {"GenerateDocuments", "SendEmail"}
        assert set(bindings.on_replay) == {"SendEmail"}
        assert bindings.dependencies.mailer is None  # smtp off
    finally:
        rt.dispose()

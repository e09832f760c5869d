"""notify_app's rows as one unit of work sees them (recipients, the status log, e-mails,
documents), and that unit of work.

The repositories track the rows they hand out, so what an e-mail record records (the work it is
owed) is collected when the unit of work commits.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from common.database.db import insert_or_lock
from common.kernel.clock import utcnow
from common.messaging.uow import Repository, UnitOfWork
from notify_app.adapters.orm import Document, EmailRecord, Notification, Recipient


class Recipients(Repository):
    """Who to tell, one row per application."""

    def get(self, application_id: str) -> Recipient | None:
        return self.track(self.session.get(Recipient, application_id))

    def locked(self, application_id: str) -> Recipient:
        """The application's row, created if needed, locked for this transaction.

        ``ApplicationSubmitted`` and the first ``ApplicationStatusChanged`` race to create it:
        ``INSERT … ON CONFLICT DO NOTHING`` lets both go on, then the row lock orders them.
        """
        values = {"application_id": application_id, "summary": {}, "last_seq": 0, "language": "en",
                  "updated_at": utcnow()}
        return self.track(insert_or_lock(self.session, Recipient, "application_id", values)[0])


class Notifications(Repository):
    """The ordered log of status changes."""

    def at(self, application_id: str, seq: int) -> Notification | None:
        return self.track(self.session.scalar(select(Notification).where(
            Notification.application_id == application_id, Notification.seq == seq)))


class Emails(Repository):
    """The e-mails owed, one per application and status change that warrants one."""

    def get(self, application_id: str, seq: int, *, for_update: bool = False) -> EmailRecord | None:
        query = select(EmailRecord).where(EmailRecord.application_id == application_id, EmailRecord.seq == seq)
        return self.track(self.session.scalar(query.with_for_update() if for_update else query))


class Documents(Repository):
    """The documents generated for an application."""

    def of(self, application_id: str) -> Sequence[Document]:
        return self.session.scalars(select(Document).where(Document.application_id == application_id)).all()

    def exists(self, application_id: str, kind: str | None = None) -> bool:
        """True if the application has a document (of ``kind``, if given)."""
        query = select(Document.id).where(Document.application_id == application_id)
        return self.session.scalar(query.where(Document.kind == kind) if kind else query) is not None


class NotifyUnitOfWork(UnitOfWork):
    """notify_app's unit of work: its rows, committed with the work the e-mail records are owed."""

    recipients: Recipients
    notifications: Notifications
    emails: Emails
    documents: Documents

    def open_repositories(self) -> None:
        self.recipients = Recipients(self)
        self.notifications = Notifications(self)
        self.emails = Emails(self)
        self.documents = Documents(self)

"""notify_app's tables: who to tell, and the ordered log of what they were told."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.database.tables import define_common_tables
from common.kernel.clock import UTCDateTime, utcnow
from common.messaging.outbox import new_id
from common.messaging.recorder import RecordsMessages


class Base(DeclarativeBase):
    """notify_app's schema (its own database)."""


TABLES = define_common_tables(Base)
OutboxMessage = TABLES.outbox


class Recipient(Base):
    """An application as notify_app knows it: contact details and latest known status."""

    __tablename__ = "recipients"

    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(2), default="en")
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str | None] = mapped_column(String(20), index=True)
    #: Reasons of the latest status (rejection reasons or the failure), for the dashboard.
    reasons: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    #: Highest ``seq`` applied: status changes can arrive out of order; the latest wins.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: What notify knows of the applicant's tokens (common.web.applicant_access.AccessFacts): the
    #: newest generation and the lowest still valid (``ApplicantAccessChanged``), and when the
    #: application reached its final status (its ``ApplicationStatusChanged``).
    access_generation: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    access_valid_from: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notification(Base):
    """One status change of one application, in a durable, ordered log.

    ``id`` grows monotonically and is the SSE event id: a client that reconnects with
    ``Last-Event-ID`` is sent exactly the rows after it.
    """

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("application_id", "seq", name="uq_notifications_application_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36))
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    previous_status: Mapped[str | None] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Document(Base):
    """A document generated for an application (the repayment schedule as PDF and CSV).

    Stored in the database, like everything notify_app must not lose: any notify instance can
    serve it, and it is backed up with the rest.
    """

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("application_id", "kind", name="uq_documents_application_kind"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(128))
    content_type: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmailRecord(RecordsMessages, Base):
    """One e-mail owed to an applicant for one status change; sent at most once.

    ``status``: PENDING (owed), SENT, FAILED (given up; visible to operators), SKIPPED (no SMTP
    configured). The stable ``message_id`` is also the e-mail's ``Message-ID`` header. It records
    the work it is owed (``GenerateDocuments``, ``SendEmail``), sent when the unit of work commits;
    having no correlation column, it is given the correlation id of the message that caused it.
    """

    __tablename__ = "emails"
    __table_args__ = (UniqueConstraint("application_id", "seq", name="uq_emails_application_seq"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    status_reported: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16), default="PENDING", index=True)
    message_id: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str | None] = mapped_column(String(300))
    attachments: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class UsedTicket(Base):
    """A live ticket that opened a stream: a ticket opens one, once, whichever process it reaches.

    The primary key is the single-use check (an ``INSERT`` that finds the id taken is a second
    use); rows are deleted once the ticket has expired (``expires_at``), when they can no longer
    be presented anyway (notify_app/live/tickets.py).
    """

    __tablename__ = "used_live_tickets"

    ticket_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

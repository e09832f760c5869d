"""notify_app's tables: who to tell, and the ordered log of what they were told."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.clock import UTCDateTime, utcnow
from common.tables import define_common_tables


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
    #: Highest ``seq`` applied: status changes can arrive out of order; the latest wins.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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

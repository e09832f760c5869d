"""credit_app's tables: one credit inquiry per application, plus outbox and processed ids."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, Integer, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.database.tables import define_common_tables
from common.kernel.clock import UTCDateTime, utcnow
from common.messaging.recorder import RecordsMessages


class Base(DeclarativeBase):
    """credit_app's schema (its own database)."""


TABLES = define_common_tables(Base)
OutboxMessage = TABLES.outbox


class CreditInquiry(RecordsMessages, Base):
    """The credit check of one application, and whether it was cancelled (compensation).

    The row exists from the first of "check done", "cancel asked" or "check given up": a
    cancellation that overtakes its check leaves a CANCELLED row, a check given up a FAILED one,
    and a late (or replayed) check then does nothing. It records what its changes tell the saga
    (``CreditChecked``, ``CreditInquiryCancelled``, …), sent when the unit of work commits.
    """

    __tablename__ = "credit_inquiries"

    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)  # COMPLETED | CANCELLED | FAILED
    bureau_inquiry_id: Mapped[str | None] = mapped_column(String(64))
    bureau_found: Mapped[bool | None] = mapped_column(Boolean)
    score: Mapped[int | None] = mapped_column(Integer)
    payment_incidents: Mapped[int | None] = mapped_column(Integer)
    open_credits: Mapped[int | None] = mapped_column(Integer)
    monthly_income: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    monthly_debts: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    debt_to_income: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)

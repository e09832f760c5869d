"""property_app's tables: one valuation per application, plus outbox and processed ids."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.database.tables import define_common_tables
from common.kernel.clock import UTCDateTime, utcnow
from common.messaging.recorder import RecordsMessages


class Base(DeclarativeBase):
    """property_app's schema (its own database)."""


TABLES = define_common_tables(Base)
OutboxMessage = TABLES.outbox


class PropertyValuation(RecordsMessages, Base):
    """The valuation of one application's property (or why it could not be valued).

    It records what it tells the saga (``PropertyValued`` or ``PropertyValuationFailed``), sent
    when the unit of work commits.
    """

    __tablename__ = "valuations"

    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)  # DONE | UNAVAILABLE
    postcode: Mapped[str] = mapped_column(String(5))
    city: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    surface_m2: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    estimated_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    price_per_m2: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    loan_to_value: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
    reference: Mapped[str | None] = mapped_column(String(100))
    adjustments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

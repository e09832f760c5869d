"""decision_app's tables: every decision with its inputs, rule results and policy version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.database.tables import define_common_tables
from common.kernel.clock import UTCDateTime, utcnow
from common.messaging.outbox import new_id
from common.messaging.recorder import RecordsMessages


class Base(DeclarativeBase):
    """decision_app's schema (its own database)."""


TABLES = define_common_tables(Base)
OutboxMessage = TABLES.outbox


class DecisionRecord(RecordsMessages, Base):
    """One decision round of an application; a round is decided once (unique constraint).

    It records ``DecisionMade`` (again, if the round is asked again), sent when the unit of work
    commits.
    """

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("application_id", "round", name="uq_decisions_application_round"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    round: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20), index=True)
    policy_version: Mapped[str] = mapped_column(String(32))
    #: The whole explained decision (reasons, offer, inputs, rule results), as published.
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

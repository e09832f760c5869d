"""decision_app's tables: every decision with its inputs, rule results and policy version; the
policy versions an admin created and published."""

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
    #: ``rules`` or ``officers`` (a referred case two officers decided): a shadow run re-decides
    #: the rules' decisions only, and selects them by this column.
    decided_by: Mapped[str] = mapped_column(String(10), default="rules", server_default="rules")
    #: The facts the decision was made from: what the policy reads of ``MakeDecision`` (the
    #: loan, the applicant's finances, the credit and valuation figures, the declared incomes,
    #: the officers' review), so that a shadow run can decide them again under another policy.
    #: Finances only: no name, e-mail, birth date or address (the erasure has nothing to do
    #: here). ``None`` for decisions made before it was kept.
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class PolicyVersionRecord(Base):
    """A version of the lending policy: a draft until an admin publishes it.

    The policy in force is the version published last (``published_at``), or the built-in
    :class:`~decision_app.domain.policy.PolicyConfig` while none was. ``thresholds`` holds every
    threshold (:mod:`decision_app.domain.thresholds`); ``published_at`` is the last time it was
    published (publishing a retired version again brings it back; the audit trail keeps each time).
    """

    __tablename__ = "policy_versions"

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

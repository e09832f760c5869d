"""How loan_app's domain objects are stored: imperative mapping onto its own tables.

The domain classes stay plain Python (no base class, no column types); this module is the only
place that knows they are rows. The outbox and processed-message tables live in the same
database so that state, events and deduplication commit together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    event,
    false,
    func,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column

from common.database.tables import define_common_tables
from common.kernel.clock import UTCDateTime
from loan_app.domain.model import Application


class Base(DeclarativeBase):
    """loan_app's schema (its own database)."""


TABLES = define_common_tables(Base)
OutboxMessage = TABLES.outbox


applications = Table(
    "applications",
    Base.metadata,
    Column("id", String(36), primary_key=True),
    Column("status", String(20), nullable=False, index=True),
    Column("correlation_id", String(64), nullable=False),
    Column("applicant", JSON, nullable=False),
    Column("property", JSON, nullable=False),
    Column("amount", Numeric(14, 2), nullable=False),
    Column("duration_months", Integer, nullable=False),
    Column("round", Integer, nullable=False, default=0),
    Column("credit", JSON),
    Column("valuation", JSON),
    Column("decision", JSON),
    Column("requested_information", JSON),
    Column("information", JSON, nullable=False, default=dict),
    Column("failure", JSON),
    Column("compensations", JSON, nullable=False, default=list),
    Column("review", JSON),
    Column("deadline", UTCDateTime, index=True),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("updated_at", UTCDateTime, nullable=False),
    # Applicant access (loan_app.domain.access): token generations, the re-issue throttle, the end.
    Column("access_generation", Integer, nullable=False, default=1, server_default="1"),
    Column("access_valid_from", Integer, nullable=False, default=1, server_default="1"),
    Column("access_sent_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
)

history = Table(
    "application_history",
    Base.metadata,
    Column("application_id", String(36), ForeignKey("applications.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("from_status", String(20)),
    Column("to_status", String(20), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("cause", Text, nullable=False),
    Column("detail", JSON, nullable=False, default=dict),
)

#: Which services confirmed the erasure of an application's personal data (``PersonalDataErased``);
#: loan's own erasure is its tombstone (``personal_data_erasures``).
erasure_confirmations = Table(
    "erasure_confirmations",
    Base.metadata,
    Column("application_id", String(36), primary_key=True),
    Column("service", String(16), primary_key=True),
    Column("erased_at", UTCDateTime, nullable=False),
)

# The history is not a relationship: a saga step appends to it and never reads it, so loading it
# with every application cost a query per message. loan_app.adapters.repository reads it when it
# is shown and inserts new transitions with Core (``Transition`` stays a plain dataclass).
Base.registry.map_imperatively(
    Application,
    applications,
    properties={
        # The number of the last transition: the next one's ``seq`` without the history. Derived
        # from the history, so it cannot drift from it; never written (no such column), and the
        # value the aggregate gives it survives a flush. Deferred: read by its own query when the
        # aggregate first moves, hence after the row lock — in the locking statement itself,
        # PostgreSQL would compute it from the snapshot taken before waiting for the lock, and miss
        # the transition of the transaction that held it.
        "seq": column_property(
            select(func.coalesce(func.max(history.c.seq), 0))
            .where(history.c.application_id == applications.c.id)
            .correlate_except(history)
            .scalar_subquery(),
            deferred=True,
            expire_on_flush=False,
        ),
    },
)


@event.listens_for(Application, "load")
def _history_not_loaded(application: Application, _context: Any) -> None:
    """A loaded application knows no transition but those it makes (the ORM skips ``__init__``)."""
    application.history = []


# Staff accounts live in loan's database too (loan answers POST /auth/token; loan_app/accounts.py).
# One row per person, and one per username with recent failed sign-ins (the throttle: kept apart
# so that a username that does not exist is throttled like one that does).
class StaffAccount(Base):
    """A staff member: username, role, argon2id hash of the password (never the password)."""

    __tablename__ = "staff_accounts"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SignInFailures(Base):
    """Failed sign-ins of one username (existing or not) since its last success or quiet spell."""

    __tablename__ = "sign_in_failures"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)

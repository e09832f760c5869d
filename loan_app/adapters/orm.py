"""How loan_app's domain objects are stored: imperative mapping onto its own tables.

The domain classes stay plain Python (no base class, no column types); this module is the only
place that knows they are rows. The outbox and processed-message tables live in the same
database so that state, events and deduplication commit together.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Integer, Numeric, String, Table, Text
from sqlalchemy.orm import DeclarativeBase, relationship

from common.database.tables import define_common_tables
from common.kernel.clock import UTCDateTime
from loan_app.domain.model import Application
from loan_app.domain.timeline import Transition


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
    Column("deadline", UTCDateTime, index=True),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("updated_at", UTCDateTime, nullable=False),
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

Base.registry.map_imperatively(Transition, history)
Base.registry.map_imperatively(
    Application,
    applications,
    properties={
        "history": relationship(Transition, order_by=history.c.seq, lazy="selectin", cascade="all, delete-orphan"),
    },
)


"""The transactional outbox and the processed-message record, as mixins every service maps.

A service declares ``class OutboxMessage(OutboxMixin, Base)`` and
``class ProcessedMessage(ProcessedMessageMixin, Base)`` on its own declarative base, so both
tables live in that service's own database and commit in the same transaction as its state.

- ``outbox``: one row per (event, consumer). Its ``id`` becomes the Dramatiq ``message_id``, so a
  row published twice (relay crash after the broker's confirm) is the same message twice.
- ``processed_messages``: the ids a consumer has applied; written in the same transaction as the
  effect, which is what makes redelivery harmless.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from common.kernel.clock import UTCDateTime, utcnow


def new_id() -> str:
    """A random UUID as text: message, event and application ids."""
    return str(uuid.uuid4())


class OutboxMixin:
    """Columns of the outbox table (see the module docstring)."""

    __tablename__ = "outbox"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    #: The Dramatiq message id when it is not the row id: a dead letter replayed by an operator
    #: keeps its original id, so that consumers still deduplicate it.
    message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Shared by the rows of one event sent to several consumers.
    event_id: Mapped[str] = mapped_column(String(36))
    message_type: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    application_id: Mapped[str | None] = mapped_column(String(36), index=True)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Publish attempts that failed. A broker that is down is waited for however long it takes;
    #: a row the broker refuses or that cannot be made into a message is parked after
    #: ``common.messaging.relay.POISON_ATTEMPTS`` of them.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Set when the relay gave up on the row (a poison row): it no longer blocks the rows after
    #: it and waits for an operator (``GET /<svc>/outbox/parked``, ``…/retry``).
    parked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805 - SQLAlchemy's declared_attr convention
        # The relay only ever scans unsent rows oldest first: a partial index keeps that scan
        # small however many sent rows the retention window keeps.
        return (
            Index(
                "ix_outbox_pending",
                "created_at",
                postgresql_where=text("sent_at IS NULL"),
                sqlite_where=text("sent_at IS NULL"),
            ),
            Index("ix_outbox_sent_at", "sent_at"),
        )


class ProcessedMessageMixin:
    """Columns of the processed-message table (see the module docstring)."""

    __tablename__ = "processed_messages"

    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    actor: Mapped[str] = mapped_column(String(128))
    application_id: Mapped[str | None] = mapped_column(String(36), index=True)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: Time the handler took, and time since the message's event was committed (the whole wait:
    #: outbox, broker, queue, handler). The task dashboard computes its percentiles from these.
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)

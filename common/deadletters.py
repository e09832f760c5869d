"""Dead letters parked in the database, where an operator can see, replay or discard them.

AMQP cannot browse a queue, and Dramatiq's ``<queue>.XQ`` expires messages after 7 days, so a
message that Dramatiq gives up on is copied into the ``dead_letters`` table of the service that
failed to process it, by the worker at the moment it fails and, as a safety net, by the relay
process draining ``<queue>.XQ`` (:func:`drain_dead_letter_queue`). Every operator action is
written to ``operator_actions`` in the same transaction as its effect.

Replaying writes an outbox row carrying the dead letter's **original message id**: the message
goes out through the normal relay, and if it had in fact been applied, the consumer's
deduplication makes the replay a no-op.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import dramatiq
from sqlalchemy import JSON, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from common.clock import UTCDateTime, utcnow
from common.outbox import new_id
from common.uow import UnitOfWork

log = logging.getLogger(__name__)

PARKED, REPLAYED, DISCARDED = "PARKED", "REPLAYED", "DISCARDED"


class DeadLetterMixin:
    """A message Dramatiq gave up on, with what is needed to understand and replay it."""

    __tablename__ = "dead_letters"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    queue: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128), index=True)
    message_type: Mapped[str | None] = mapped_column(String(64))
    application_id: Mapped[str | None] = mapped_column(String(36), index=True)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    #: The Dramatiq message as a dict (args hold the envelope; options the retry history).
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=PARKED, index=True)
    parked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OperatorActionMixin:
    """The audit trail: who did what to which dead letter (or queue), when, and the outcome."""

    __tablename__ = "operator_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    operator: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def park(uow: UnitOfWork, model: type, message: dramatiq.Message, error: str | None, traceback: str | None) -> bool:
    """Record ``message`` as a dead letter unless it is already parked; True if it was new."""
    existing = uow.session.scalar(select(model.id).where(model.message_id == message.message_id))
    if existing is not None:
        return False
    wire = message.args[0] if message.args and isinstance(message.args[0], dict) else {}
    uow.session.add(model(
        id=new_id(),
        message_id=message.message_id,
        queue=message.queue_name.removesuffix(".DQ").removesuffix(".XQ"),
        actor=message.actor_name,
        message_type=wire.get("type"),
        application_id=wire.get("application_id") or message.options.get("application_id"),
        correlation_id=wire.get("correlation_id") or message.options.get("correlation_id"),
        message=message.asdict(),
        error=error,
        traceback=traceback or message.options.get("traceback"),
        retries=int(message.options.get("retries", 0)),
        status=PARKED,
        parked_at=utcnow(),
    ))
    return True


def replay(uow: UnitOfWork, letter: Any) -> str:
    """Send a parked message again, with its original id, through the outbox; returns the row id."""
    wire = letter.message["args"][0]
    row_id = new_id()
    uow.session.add(uow.outbox_model(
        id=row_id,
        message_id=letter.message_id,
        event_id=wire.get("event_id") or new_id(),
        message_type=wire.get("type") or letter.message_type or "?",
        queue=letter.queue,
        actor=letter.actor,
        application_id=letter.application_id,
        correlation_id=letter.correlation_id,
        payload={"occurred_at": wire.get("occurred_at") or utcnow().isoformat(), **(wire.get("data") or {})},
        created_at=utcnow(),
    ))
    uow.staged_rows += 1
    letter.status = REPLAYED
    letter.resolved_at = utcnow()
    return row_id


def discard(letter: Any) -> None:
    """Give up on a parked message for good (audited by the caller)."""
    letter.status = DISCARDED
    letter.resolved_at = utcnow()


def drain_dead_letter_queue(runtime: Any) -> int:
    """Periodic: move every message of this service's ``<queue>.XQ`` into ``dead_letters``.

    A message is acknowledged on the queue only after the row that parks it is committed, so a
    crash in between leaves it on the queue for the next round (and parking is idempotent).
    """
    from common.contracts import queues_of
    from common.dlq_source import dead_letter_source

    moved = 0
    for queue in queues_of(runtime.name):
        source = dead_letter_source(runtime, queue)
        for message, acknowledge in source.fetch(limit=100):
            with runtime.uow() as uow:
                park(uow, runtime.definition.tables.dead_letters, message, "dead-lettered by the broker", None)
                uow.commit()
            acknowledge()
            moved += 1
        source.close()
    return moved

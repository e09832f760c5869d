"""Dead letters parked in the database, where an operator can see, replay or discard them.

AMQP cannot browse a queue, and Dramatiq's ``<queue>.XQ`` expires messages after 7 days, so a
message that Dramatiq gives up on is copied into the ``dead_letters`` table of the service that
failed to process it, by the worker at the moment it fails and, as a safety net, by the relay
process draining ``<queue>.XQ`` (:func:`drain_dead_letter_queue`). Every operator action is
written to ``operator_actions`` in the same transaction as its effect.

Replaying writes an outbox row carrying the dead letter's **original message id**: the message
goes out through the normal relay, and if it had in fact been applied, the consumer's
deduplication makes the replay a no-op. A service may prepare a replay in the same transaction
(``runtime.bindings.on_replay``, bound by the service's bootstrap: notify makes a FAILED e-mail
owed again). A replay that fails for good again puts the *same row* back to PARKED with the new
error, traceback and retries, and counts it in ``replays``: one row per message, its operator
actions in ``operator_actions``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import dramatiq
from sqlalchemy import JSON, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from common.kernel.clock import UTCDateTime, utcnow
from common.messaging.envelope import Envelope
from common.messaging.erasure import scrub_shared_tables
from common.messaging.outbox import new_id
from common.messaging.uow import UnitOfWork

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
    #: Times an operator replayed it; the round a failure belongs to (see :func:`park`).
    replays: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
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


def park(uow: UnitOfWork, model: type, message: dramatiq.Message, error: str | None,
         traceback: str | None) -> int | None:
    """Record ``message`` as a dead letter; returns its replay round, or None if nothing changed.

    A message already parked (the worker and the ``.XQ`` drain both report it) changes nothing.
    A REPLAYED row is parked again only by the replayed message itself: its timestamp is the
    replay's (the relay stamps the outbox row's creation time), whereas a stale copy of an
    earlier round still waiting in ``.XQ`` carries an older one and must not undo the replay.
    """
    letter = uow.session.scalar(select(model).where(model.message_id == message.message_id).with_for_update())
    if letter is None:
        letter = model(id=new_id(), message_id=message.message_id, replays=0)
        uow.session.add(letter)
    elif letter.status != REPLAYED or message.message_timestamp < _millis(letter.resolved_at):
        return None
    wire = message.args[0] if message.args and isinstance(message.args[0], dict) else {}
    letter.queue = message.queue_name.removesuffix(".DQ").removesuffix(".XQ")
    letter.actor = message.actor_name
    letter.message_type = wire.get("type")
    letter.application_id = wire.get("application_id") or message.options.get("application_id")
    letter.correlation_id = wire.get("correlation_id") or message.options.get("correlation_id")
    letter.message = message.asdict()
    letter.error = error
    letter.traceback = traceback or message.options.get("traceback")
    letter.retries = int(message.options.get("retries", 0))
    letter.status = PARKED
    letter.parked_at = utcnow()
    letter.resolved_at = None
    return int(letter.replays or 0)


def _millis(moment: datetime | None) -> int:
    return int(moment.timestamp() * 1000) if moment is not None else 0


def replay(uow: UnitOfWork, letter: Any, prepare: Callable[[Envelope, UnitOfWork], None] | None = None) -> str:
    """Send a parked message again, with its original id, through the outbox; returns the row id.

    ``prepare`` (the service's ``on_replay`` handler for this message type) runs first, in the
    same transaction. The outbox row and ``resolved_at`` share one timestamp, which is how
    :func:`park` tells the replayed message from older copies.
    """
    wire = letter.message["args"][0]
    if prepare is not None:
        prepare(Envelope.from_wire(letter.message_id, wire), uow)
    now = utcnow()
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
        payload={"occurred_at": wire.get("occurred_at") or now.isoformat(), **(wire.get("data") or {})},
        created_at=now,
    ))
    uow.staged_rows += 1
    letter.status = REPLAYED
    letter.replays = int(letter.replays or 0) + 1
    letter.resolved_at = now
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
    from common.messaging.contracts import queues_of
    from common.messaging.dlq_source import dead_letter_source

    moved = 0
    for queue in queues_of(runtime.name):
        # Closed on every path: while the database is down each round fails at its first row,
        # and a connection left open per round (every 5 s) would pile up on the broker.
        with contextlib.closing(dead_letter_source(runtime, queue)) as source:
            for message, acknowledge in source.fetch(limit=100):
                with runtime.uow() as uow:
                    _park_drained(uow, runtime.definition.tables, message)
                    uow.commit()
                acknowledge()
                moved += 1
    return moved


def _park_drained(uow: UnitOfWork, tables: Any, message: dramatiq.Message) -> None:
    """Park a message drained from ``.XQ``; scrubbed at once if its application was erased."""
    wire = message.args[0] if message.args and isinstance(message.args[0], dict) else {}
    application_id = wire.get("application_id") or message.options.get("application_id")
    erased = uow.erased(application_id)  # first, before the dead letter's row lock
    park(uow, tables.dead_letters, message, "dead-lettered by the broker", None)
    if erased:
        scrub_shared_tables(uow.session, tables, application_id)

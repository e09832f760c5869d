"""Dramatiq actors generated from the message catalogue, each applying a handler exactly once.

For every message a service consumes, :func:`register_actors` declares the actor
``"<service>.<message>"`` on the service's queue. The actor body is always the same, which is
why it lives here and not in five copies: open a unit of work, claim the message id (the
transaction's first statement both skips a message already applied and records this one), run
the handler, commit. Retries, time limits and dead-lettering come
from Dramatiq's middleware; failed attempts, dead letters and the service's give-up handlers
(``runtime.bindings.on_give_up``) from :class:`common.messaging.tasks.Supervision`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import dramatiq
from dramatiq import Broker, Retry
from dramatiq.middleware import CurrentMessage, Retries
from sqlalchemy import select

from common.kernel.logs import correlated
from common.kernel.metrics import DUPLICATES_ABSORBED
from common.messaging.contracts import consumed_by
from common.messaging.envelope import Envelope
from common.messaging.tasks import Supervision
from common.service.runtime import Handler, Runtime, TwoPhase

log = logging.getLogger(__name__)

#: A ``Retry`` asking for at most this delay is made in the worker's thread (the unit of work
#: rolled back first), at most :data:`SOON_RETRIES` times, before Dramatiq's delay queue is used.
SOON_MAX_DELAY_MS = 100
SOON_RETRIES = 3

def _duplicate(actor_name: str, message_id: str) -> bool:
    DUPLICATES_ABSORBED.labels(actor_name).inc()
    log.info("duplicate message skipped", extra={"message_id": message_id, "actor": actor_name})
    return False


def apply_once(
    runtime: Runtime, handler: Handler | TwoPhase, actor_name: str, message_id: str, wire: dict,
    enqueued_ms: int | None = None,
) -> bool:
    """Apply one message in one transaction unless it was applied before.

    Returns:
      True if the handler ran and committed, False if the message was a duplicate.
    """
    envelope = Envelope.from_wire(message_id, wire)
    with correlated(envelope.correlation_id):
        for attempt in range(SOON_RETRIES + 1):
            try:
                return _apply_once(runtime, handler, actor_name, message_id, envelope, enqueued_ms)
            except Retry as retry:
                # A retry asked for within milliseconds (notify's status change waiting for its
                # predecessor, which another thread is applying right now) is made here: through
                # Dramatiq's delay queue it would wait for the worker's next poll of delayed
                # messages (up to a second) and cost two more trips through the broker.
                delay_ms = retry.delay or 0
                if attempt == SOON_RETRIES or delay_ms > SOON_MAX_DELAY_MS:
                    raise
                time.sleep(delay_ms / 1000)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _apply_once(runtime: Runtime, handler: Handler | TwoPhase, actor_name: str, message_id: str,
                envelope: Envelope, enqueued_ms: int | None) -> bool:
    """Claim the message id first (the dedupe and the record in one statement), then apply it.

    A two-phase handler's ``prepare`` (an outside call) runs before the transaction: a cheap
    read first keeps it from running again for a message already applied.
    """
    started = time.time()
    prepared: Any = None
    two_phase = isinstance(handler, TwoPhase)
    if two_phase:
        if _already_processed(runtime, message_id):
            return _duplicate(actor_name, message_id)
        prepared = handler.prepare(envelope)
    with runtime.uow() as uow:
        if not uow.claim(message_id, actor_name, envelope.application_id, envelope.correlation_id):
            return _duplicate(actor_name, message_id)
        if two_phase:
            handler.apply(envelope, uow, prepared)
        else:
            handler(envelope, uow)
        finished = time.time()
        uow.record_timing(message_id, duration_ms=int((finished - started) * 1000),
                          latency_ms=int(finished * 1000 - enqueued_ms) if enqueued_ms else None)
        uow.commit()
    if log.isEnabledFor(logging.DEBUG):
        log.debug("message applied", extra={"message_id": message_id, "actor": actor_name, "type": envelope.type})
    return True


def _already_processed(runtime: Runtime, message_id: str) -> bool:
    """True when ``message_id`` is in ``processed_messages`` (one read, no unit of work)."""
    column = runtime.definition.processed_model.__table__.c.message_id
    with runtime.engine.connect() as connection:
        return connection.execute(select(column).where(column == message_id)).first() is not None


def _make_actor_fn(runtime: Runtime, handler: Handler | TwoPhase, actor_name: str) -> Any:
    def consume(wire: dict) -> None:
        message = CurrentMessage.get_current_message()
        if message is None:  # pragma: no cover - CurrentMessage is always installed
            raise RuntimeError("CurrentMessage middleware missing")
        apply_once(runtime, handler, actor_name, message.message_id, wire, message.message_timestamp)

    consume.__name__ = actor_name.replace(".", "_")
    consume.__qualname__ = consume.__name__
    return consume


def register_actors(runtime: Runtime, broker: Broker) -> dict[str, dramatiq.Actor]:
    """Declare one actor per message ``runtime``'s service consumes; returns them by name."""
    definition = runtime.definition
    handlers = runtime.bindings.handlers
    all_options = definition.actor_options(runtime.settings)
    actors: dict[str, dramatiq.Actor] = {}
    for spec in consumed_by(definition.name):
        if spec.name not in handlers:
            raise LookupError(f"{definition.name} consumes {spec.name} but has no handler for it")
        actor_name = spec.actor_name(definition.name)
        options = all_options.get(spec.name, {})
        actors[actor_name] = dramatiq.actor(
            _make_actor_fn(runtime, handlers[spec.name], actor_name),
            actor_name=actor_name,
            queue_name=spec.queue(definition.name),
            broker=broker,
            **options,
        )
        # Dramatiq's actor logs every call's arguments at DEBUG: an applicant's name, birth date
        # and income. Never, whatever the level (the "message applied" line says what happened).
        actors[actor_name].logger.setLevel(logging.INFO)
    supervision = next((m for m in broker.middleware if isinstance(m, Supervision)), None)
    if supervision is None:
        supervision = Supervision()
        broker.add_middleware(supervision, before=Retries)
    supervision.register(runtime, dict(runtime.bindings.on_give_up))
    runtime.broker = broker
    return actors

"""Embedded mode: after a restart, send again every message the in-memory broker lost.

With RabbitMQ a message the relay has published survives any crash: it is on a durable queue
until a worker acks it. The embedded mode's broker is Dramatiq's in-process stub, so a message
published but not yet applied (queued, being handled, or waiting for a delayed retry) dies with
the process, and the application it carried would wait forever in ``EVALUATING``.

The outboxes are the durable copy of every message. At start-up, before any worker or relay
runs, a sent outbox row whose message its consumer has neither applied (``processed_messages``)
nor parked or discarded as a dead letter is marked unsent again, and the relay sends it as
usual. Sending too much is harmless (consumers skip a message id they have applied); missing
one is not. Retention keeps processed ids longer than outbox rows (``common.database.retention``), so
every row still in an outbox can be checked.

This reads the consumer's tables from the producer's side, which no service does otherwise: it
is the broker's job, done here because the embedded broker keeps nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select, update

from common.messaging.deadletters import DISCARDED, PARKED
from common.service.runtime import Runtime

log = logging.getLogger(__name__)

#: Message ids checked per query (SQLite binds at most 32 766 parameters).
CHUNK = 500


def requeue_unapplied(runtimes: Mapping[str, Runtime]) -> dict[str, int]:
    """Mark unsent again every sent outbox row not applied by its consumer; returns counts per producer."""
    requeued: dict[str, int] = {}
    for producer, rt in runtimes.items():
        outbox = rt.definition.tables.outbox
        with rt.session_factory() as session:
            rows = session.execute(
                select(outbox.id, outbox.message_id, outbox.actor).where(outbox.sent_at.is_not(None))
            ).all()
        by_consumer: dict[str, dict[str, str]] = {}
        for row_id, message_id, actor in rows:
            by_consumer.setdefault(actor.split(".", 1)[0], {})[message_id or row_id] = row_id
        lost: list[str] = []
        for consumer, row_ids in by_consumer.items():
            if consumer in runtimes:
                lost += [row_ids[message_id] for message_id in _unsettled(runtimes[consumer], list(row_ids))]
        for start in range(0, len(lost), CHUNK):
            with rt.session_factory() as session, session.begin():
                session.execute(update(outbox).where(outbox.id.in_(lost[start:start + CHUNK])).values(sent_at=None))
        if lost:
            log.warning("messages lost by the in-memory broker are sent again",
                        extra={"producer": producer, "count": len(lost)})
        requeued[producer] = len(lost)
    return requeued


def _unsettled(consumer: Runtime, message_ids: list[str]) -> set[str]:
    """The ids among ``message_ids`` that ``consumer`` has neither applied nor put aside."""
    tables = consumer.definition.tables
    pending = set(message_ids)
    with consumer.session_factory() as session:
        for start in range(0, len(message_ids), CHUNK):
            chunk = message_ids[start:start + CHUNK]
            pending -= set(session.scalars(select(tables.processed.message_id)
                                           .where(tables.processed.message_id.in_(chunk))))
            pending -= set(session.scalars(select(tables.dead_letters.message_id)
                                           .where(tables.dead_letters.message_id.in_(chunk),
                                                  tables.dead_letters.status.in_((PARKED, DISCARDED)))))
    return pending

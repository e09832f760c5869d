"""The outbox relay: publishes committed outbox rows to the broker, then marks them sent.

Algorithm (after kbairak/outbox's message relay, made synchronous):

1. In one transaction, take up to ``batch_size`` unsent rows, oldest first, with
   ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several relay copies share the work
   without publishing a row twice at the same time.
2. Publish each row as a Dramatiq message whose ``message_id`` is the row id. With RabbitMQ the
   whole batch is written on a channel in confirm mode, then the relay waits once for every
   confirm (:mod:`common.messaging.publisher`); a row counts as published only once RabbitMQ
   confirmed it.
3. Mark exactly the rows that were confirmed, with one ``UPDATE … WHERE id = ANY(…)``, and
   commit. If the broker fails midway, the rows already confirmed are marked and the rest stay
   for the next round. Rows are read and written with SQLAlchemy Core (no ORM object per row).

A crash between 2 and 3 publishes a row again later: consumers deduplicate on the message id,
so at-least-once publishing plus idempotent consumers gives an effect applied once.

Two kinds of failure are told apart (:func:`broker_unreachable`). The broker being unreachable
stops the batch: the rows wait, in order, however long the outage lasts. A row that cannot be
published whatever the broker's state — it cannot be made into a message, or RabbitMQ refuses
it (a channel error such as an access refusal or an oversized message, or a stub queue that
does not exist) — is skipped so that the rows after it keep flowing, and after
:data:`POISON_ATTEMPTS` such failures it is *parked* (``parked_at``): counted in
``loanflow_outbox_parked_total``, logged as an error, and left for an operator.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import dramatiq
import pika
from dramatiq import Broker
from sqlalchemy import Connection, Engine, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import sessionmaker

from common.kernel.clock import utcnow
from common.kernel.metrics import OUTBOX_PARKED, OUTBOX_PUBLISH_FAILURES, OUTBOX_PUBLISH_SECONDS, OUTBOX_PUBLISHED
from common.messaging.envelope import Envelope
from common.messaging.publisher import publisher_for

log = logging.getLogger(__name__)

#: Fault-injection switch of the crash tests (never set in production; ``Settings``
#: reads it): the relay process exits right after the broker confirmed a message and before the
#: row is marked sent.
FAULT_EXIT_AFTER_PUBLISH = "LOANFLOW_FAULT_EXIT_AFTER_PUBLISH"
#: Failed publications of one row, not explained by an unreachable broker, before it is parked.
POISON_ATTEMPTS = 5
#: pika errors with which RabbitMQ refuses one message or queue while the connection is fine.
_REFUSALS = (pika.exceptions.ChannelClosedByBroker, pika.exceptions.UnroutableError, pika.exceptions.NackError)


def broker_unreachable(error: BaseException) -> bool:
    """True when ``error`` says the broker cannot be reached (wait for it), not that it refused
    this message or that the row cannot be made into one (a poison row).

    Dramatiq reports both a lost connection and a closed channel as ``ConnectionClosed``, with
    pika's error as its ``message``; the latter is RabbitMQ refusing what it was sent.
    """
    if isinstance(error, dramatiq.errors.BrokerConnectionError):
        return not isinstance(getattr(error, "message", None), _REFUSALS)
    return isinstance(error, OSError | pika.exceptions.AMQPConnectionError)


def to_message(row: object) -> dramatiq.Message:
    """The Dramatiq message for one outbox row (the row id is the message id)."""
    payload = dict(row.payload)  # type: ignore[attr-defined]
    occurred_at = payload.pop("occurred_at")
    message_id = row.message_id or row.id  # type: ignore[attr-defined]
    envelope = Envelope(
        message_id=message_id,
        event_id=row.event_id,  # type: ignore[attr-defined]
        type=row.message_type,  # type: ignore[attr-defined]
        application_id=row.application_id,  # type: ignore[attr-defined]
        correlation_id=row.correlation_id,  # type: ignore[attr-defined]
        occurred_at=occurred_at,
        data=payload,
    )
    return dramatiq.Message(
        queue_name=row.queue,  # type: ignore[attr-defined]
        actor_name=row.actor,  # type: ignore[attr-defined]
        args=(envelope.to_wire(),),
        kwargs={},
        options={"correlation_id": row.correlation_id, "application_id": row.application_id},  # type: ignore[attr-defined]
        message_id=message_id,
        message_timestamp=int(row.created_at.timestamp() * 1000),  # type: ignore[attr-defined]
    )


class OutboxRelay:
    """Moves committed outbox rows of one service database to the broker.

    Parameters:
      session_factory: sessions on the service database (the relay keeps one connection of its
        engine between rounds).
      outbox_model: the service's mapped outbox class (its table is read and written with
        SQLAlchemy Core: no ORM object is built per row).
      broker: where to publish: RabbitMQ (a batch pipelined with publisher confirms, on a
        connection of the relay's own, :mod:`common.messaging.publisher`) or any other Dramatiq
        broker (the embedded mode's stub: one ``enqueue`` per message).
      batch_size: rows per transaction.
      poll_interval: seconds to sleep when idle; a ``wakeup`` cuts it short.
      exit_after_publish: fault injection (``Settings.fault_exit_after_publish``): exit the
        process once the first row is published, before it is marked sent (batches of one row).
    """

    def __init__(
        self,
        session_factory: sessionmaker,
        outbox_model: type,
        broker: Broker,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.2,
        wakeup: Callable[[float], bool] | None = None,
        exit_after_publish: bool = False,
    ) -> None:
        self.session_factory = session_factory
        self.engine: Engine = session_factory.kw["bind"]
        self._connection: Connection | None = None
        self.model = outbox_model
        self.table = outbox_model.__table__  # type: ignore[attr-defined]
        self.broker = broker
        self.publisher = publisher_for(broker)
        self.batch_size = 1 if exit_after_publish else batch_size
        self.poll_interval = poll_interval
        self._wait = wakeup or (lambda timeout: time.sleep(timeout) or False)
        self.published_total = 0
        self.exit_after_publish = exit_after_publish

    def run_once(self) -> int:
        """Publish one batch; returns how many rows were marked sent."""
        table = self.table
        connection = self._connect()
        try:
            with connection.begin():
                rows = connection.execute(
                    select(table)
                    .where(table.c.sent_at.is_(None), table.c.parked_at.is_(None))
                    .order_by(table.c.created_at)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                ).all()
                if not rows:
                    self.publisher.idle()
                    return 0
                sent = self._publish(connection, rows)
                if sent and self.exit_after_publish:
                    log.warning("fault injection: exiting after publish, before marking the row sent")
                    os._exit(17)
                if sent:
                    self._mark_sent(connection, sent)
        except Exception:
            self._disconnect()  # perhaps broken (database restarted): a checked one next round
            raise
        self.published_total += len(sent)
        return len(sent)

    def _connect(self) -> Connection:
        """The relay's own connection, kept between rounds: a round (5 a second when idle) then
        costs no pool checkout and no ``pool_pre_ping`` round trip."""
        if self._connection is None or self._connection.closed or self._connection.invalidated:
            self._connection = self.engine.connect()
        return self._connection

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:
                log.debug("closing the relay's database connection failed", exc_info=True)

    def _publish(self, connection: Connection, rows: Sequence[Any]) -> list[Any]:
        """Publish ``rows`` in order; the rows the broker confirmed. Failures are recorded."""
        sent: list[Any] = []
        while rows:
            messages, built = [], []
            for row in rows:
                try:
                    messages.append(to_message(row))
                    built.append(row)
                except Exception as error:
                    self._failed(connection, row, error)  # a poison row: never a message
            results = self.publisher.publish(messages)
            if messages and not results:
                break
            for row, result in zip(built, results, strict=False):
                if result is None:
                    sent.append(row)
                elif self._failed(connection, row, result):
                    return sent  # broker down: keep this row and the rest for the next round
            # The publisher stopped early when a refusal closed its channel: go on with the rest.
            rows = built[len(results):]
        return sent

    def _mark_sent(self, connection: Connection, rows: list[Any]) -> None:
        """One UPDATE for the whole batch, then the metrics."""
        now = utcnow()
        ids = [row.id for row in rows]
        table = self.table
        if connection.dialect.name == "postgresql":
            where = table.c.id == any_(bindparam("ids", ids, type_=ARRAY(table.c.id.type)))
        else:
            where = table.c.id.in_(ids)
        connection.execute(update(table).where(where).values(sent_at=now))
        counts = Counter(row.message_type for row in rows)
        for message_type, count in counts.items():
            OUTBOX_PUBLISHED.labels(message_type).inc(count)
        for row in rows:
            OUTBOX_PUBLISH_SECONDS.observe((now - row.created_at).total_seconds())

    def _failed(self, connection: Connection, row: Any, error: BaseException) -> bool:
        """Record a failed publication of ``row``; True when the broker is unreachable."""
        OUTBOX_PUBLISH_FAILURES.labels(row.queue).inc()
        attempts = row.attempts + 1
        last_error = f"{type(error).__name__}: {error}"[:500]
        extra = {"error": last_error, "outbox_id": row.id, "queue": row.queue}
        unreachable = broker_unreachable(error)
        parked_at = None
        if unreachable:
            log.warning("outbox publish failed; will retry", extra=extra)
        elif attempts >= POISON_ATTEMPTS:
            parked_at = utcnow()
            OUTBOX_PARKED.labels(row.queue).inc()
            log.error("outbox row parked: it cannot be published", extra=extra)
        else:
            log.warning("outbox row could not be published; later rows go on", extra=extra)
        connection.execute(update(self.table).where(self.table.c.id == row.id)
                        .values(attempts=attempts, last_error=last_error, parked_at=parked_at))
        return unreachable

    def close(self) -> None:
        """Close the relay's own connections (database, and broker for RabbitMQ)."""
        self.publisher.close()
        self._disconnect()

    def run_forever(self, stop: threading.Event) -> None:
        """Publish until ``stop`` is set, surviving broker and database outages."""
        failures = 0
        while not stop.is_set():
            try:
                sent = self.run_once()
                failures = 0
            except Exception:
                # Database unreachable (or a bug): back off, never die, the rows are safe.
                failures += 1
                log.exception("outbox relay round failed")
                stop.wait(min(5.0, 0.2 * 2**failures))
                continue
            if sent < self.batch_size:
                self._wait(self.poll_interval)
        self.close()

"""How many messages wait in notify's main queue: the work decided but not yet *told* to applicants.

Why loan_app reads another service's queue: admission (``loan_app/admission.py``) bounds the
applications in evaluation, but the applicant only learns the decision when notify has logged the
status change and pushed it on the live channels. Under a surge, loan can decide faster than notify
tells (both share the same cores), so a bound on evaluations alone let notify's queue grow to
thousands of messages and the decisions reach applicants tens of seconds late (issue 17, measured
in docs/benchmarks.md). Counting notify's untold messages in the same bound makes admission follow
the slowest stage of the whole path, not only loan's.

The depth is the broker's own figure (``queue.declare`` with ``passive``: ready messages, the
unacknowledged ones a worker holds excluded, a few dozen at most), read on one connection kept by
the process; the queue's name comes from the message catalogue, not from notify's code. A broker
that cannot be reached counts as an empty queue: admission then falls back to the evaluations
alone rather than refusing applications that the outbox would keep safely anyway.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

import pika
import pika.exceptions

from common.messaging.contracts import queues_of

log = logging.getLogger(__name__)

#: Seconds before trying again after the broker could not be reached (no reconnect storm).
RETRY_AFTER_FAILURE_SECONDS = 5.0
#: Socket timeout of the probe: a POST never waits longer than this for the figure.
TIMEOUT_SECONDS = 0.5


class QueueDepth:
    """Ready messages of one RabbitMQ queue, by passive declare on a connection kept between calls.

    Not thread-safe: the admission gate calls it under its lock. ``clock``: monotonic seconds.
    """

    def __init__(self, broker_url: str, queue: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.broker_url = broker_url
        self.queue = queue
        self.clock = clock
        self._connection: pika.BlockingConnection | None = None
        self._channel: object | None = None
        self._failed_at: float | None = None

    def __call__(self) -> int:
        """The queue's ready messages now; ``0`` without a broker or while it cannot be reached."""
        if not self.broker_url:
            return 0
        if self._failed_at is not None and self.clock() - self._failed_at < RETRY_AFTER_FAILURE_SECONDS:
            return 0
        try:
            channel = self._open()
            frame = channel.queue_declare(self.queue, passive=True)  # type: ignore[attr-defined]
        except pika.exceptions.ChannelClosedByBroker:
            self._channel = None  # no such queue yet (notify never started): nothing waits in it
            return 0
        except (pika.exceptions.AMQPError, OSError) as error:
            if self._failed_at is None:
                log.warning("admission: depth of queue %s not read (%s); counting evaluations only", self.queue, error)
            self.close()
            self._failed_at = self.clock()
            return 0
        self._failed_at = None
        return int(frame.method.message_count)

    def _open(self) -> object:
        if self._connection is None or not self._connection.is_open:
            params = pika.URLParameters(self.broker_url)
            params.socket_timeout = TIMEOUT_SECONDS
            params.blocked_connection_timeout = TIMEOUT_SECONDS
            params.connection_attempts = 1
            # No heartbeats: the connection idles between surges, and a dead one shows as an error
            # on the next declare, which reconnects.
            params.heartbeat = 0
            params.client_properties = {"connection_name": "loan admission probe"}
            self._connection = pika.BlockingConnection(params)
            self._channel = None
        if self._channel is None or not self._channel.is_open:  # type: ignore[attr-defined]
            self._channel = self._connection.channel()
        return self._channel

    def close(self) -> None:
        """Drop the connection (the next call reconnects)."""
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):  # already broken: nothing to release
                connection.close()


def notify_queue() -> str:
    """The queue of notify's status log (its main queue; the e-mail lane is not counted)."""
    return queues_of("notify")[0]

"""Building the Dramatiq broker, before any actor is declared.

There is no implicit global broker at import time: every entrypoint calls :func:`build_broker`
first, then declares its actors on it. RabbitMQ runs with publisher confirms (an ``enqueue``
returns only once the broker has the message) and durable queues with persistent messages,
which Dramatiq's RabbitMQ broker always uses. Without ``BROKER_URL`` the in-process stub broker
serves the embedded default.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import dramatiq
import pika
from dramatiq import Broker
from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer
from dramatiq.brokers.stub import StubBroker
from dramatiq.errors import ConnectionClosed
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from common.kernel.settings import Settings

#: Default retry policy: exponential backoff with jitter between these bounds (milliseconds).
MIN_BACKOFF_MS = 500
MAX_BACKOFF_MS = 60_000
MAX_RETRIES = 8


#: RabbitMQ's default consumer timeout (ms). Dramatiq holds a delayed retry un-acked in the
#: worker until it is due; a delay longer than this makes RabbitMQ close the channel (dramatiq
#: #827), so longer backoffs are refused at start.
RABBITMQ_CONSUMER_TIMEOUT_MS = 30 * 60 * 1000
#: Compensations back off at most this long between attempts.
COMPENSATION_MAX_BACKOFF_MS = 5 * 60_000


#: Set on a message whose retry could not be published: acknowledge it by requeueing instead.
REQUEUE_ATTRIBUTE = "_loanflow_requeue"


class SafeRetries(Retries):
    """Dramatiq's Retries, except that a retry is never lost nor given up for a transport error.

    Upstream, ``Retries.after_process_message`` re-enqueues a failed message with a delay; if
    that publish raises (broker connection lost), Dramatiq logs the error and then **acks** the
    message: it is gone (dramatiq PR #545). Here the publish is tried again with a short
    backoff; if the broker still refuses, the message is neither acked nor failed: it is marked
    for requeueing (:class:`RequeueingConsumer` nacks it with ``requeue=True``, and a consumer
    whose connection died leaves it unacked, which RabbitMQ redelivers once workers reconnect).
    Its body still carries the retry count it arrived with, so the step's retries are intact
    and no give-up runs for what was only a broker blip. Only a broker that cannot requeue (the
    in-process stub of the embedded mode, whose publish does not fail) falls back to failing it.
    """

    #: Seconds to wait between the attempts to re-enqueue a retry.
    REENQUEUE_WAITS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)

    def after_process_message(self, broker: Broker, message: dramatiq.Message, *, result: object = None,
                              exception: BaseException | None = None) -> None:
        for wait in (*self.REENQUEUE_WAITS, None):
            try:
                super().after_process_message(broker, message, result=result, exception=exception)
                return
            except Exception as error:
                # Undo the bookkeeping of the failed attempt so that it is not counted twice.
                message.options["retries"] = max(0, int(message.options.get("retries", 1)) - 1)
                if wait is None:
                    self._not_published(broker, message, f"{type(error).__name__}: {error}"[:300])
                    return
                time.sleep(wait)

    def _not_published(self, broker: Broker, message: dramatiq.Message, error: str) -> None:
        message.options["retry_enqueue_error"] = error
        if isinstance(broker, LoanflowRabbitmqBroker):
            self.logger.warning("Retry of message %r not published (%s): requeued for redelivery.",
                                message.message_id, error)
            setattr(message, REQUEUE_ATTRIBUTE, error)
        else:
            message.fail()  # type: ignore[attr-defined]


class RequeueingConsumer(_RabbitmqConsumer):
    """Dramatiq's RabbitMQ consumer, except that a message marked by :class:`SafeRetries` is requeued.

    Why: the worker acks every message that did not fail; acking one whose retry could not be
    published would lose it. ``basic_nack(requeue=True)`` hands it back to RabbitMQ unchanged.
    """

    def ack(self, message: Any) -> None:
        if getattr(message, REQUEUE_ATTRIBUTE, None) is None:
            super().ack(message)
            return
        try:
            self.known_tags.remove(message._tag)
            self.connection.add_callback_threadsafe(partial(self.channel.basic_nack, message._tag, requeue=True))
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as error:
            # The connection is gone: RabbitMQ already put the unacked message back in its queue.
            raise ConnectionClosed(error) from None
        except KeyError:
            self.logger.info("Message %r was already handed back by a lost connection.", message.message_id)


class LoanflowRabbitmqBroker(RabbitmqBroker):
    """The RabbitMQ broker with :class:`RequeueingConsumer` consumers."""

    @property
    def consumer_class(self) -> type[RequeueingConsumer]:
        return RequeueingConsumer


def _middleware() -> list[dramatiq.Middleware]:
    return [
        AgeLimit(),
        TimeLimit(time_limit=300_000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        SafeRetries(min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS, max_retries=MAX_RETRIES),
        CurrentMessage(),
    ]


def check_retry_settings(settings: Settings) -> None:
    """Refuse a configuration whose retry delays would outlive RabbitMQ's consumer timeout."""
    for name, value in (("LOANFLOW_MAX_BACKOFF_MS", settings.max_backoff_ms),
                        ("compensation backoff", COMPENSATION_MAX_BACKOFF_MS)):
        if value >= RABBITMQ_CONSUMER_TIMEOUT_MS:
            raise ValueError(f"{name}={value} ms is not below RabbitMQ's consumer timeout "
                             f"({RABBITMQ_CONSUMER_TIMEOUT_MS} ms): delayed retries would be redelivered")
    if settings.min_backoff_ms > settings.max_backoff_ms:
        raise ValueError("LOANFLOW_MIN_BACKOFF_MS is above LOANFLOW_MAX_BACKOFF_MS")


def build_broker(settings: Settings) -> Broker:
    """The broker for this process, set as Dramatiq's global one (the CLI looks there)."""
    check_retry_settings(settings)
    broker: Broker
    if settings.embedded:
        broker = StubBroker(middleware=_middleware())
        broker.emit_after("process_boot")
    else:
        broker = LoanflowRabbitmqBroker(url=settings.broker_url, confirm_delivery=True, middleware=_middleware())
    dramatiq.set_broker(broker)
    return broker


class BrokerProbe:
    """Answers "can I reach RabbitMQ?" for ``/ready`` without opening a connection per request."""

    def __init__(self, url: str, ttl: float = 2.0) -> None:
        self.url = url
        self.ttl = ttl
        self._checked_at = 0.0
        self._ok = False

    def ok(self) -> bool:
        if not self.url:
            return True
        now = time.monotonic()
        if now - self._checked_at > self.ttl:
            self._ok = self._probe()
            self._checked_at = now
        return self._ok

    def _probe(self) -> bool:
        params = pika.URLParameters(self.url)
        params.socket_timeout = 2
        params.blocked_connection_timeout = 2
        params.connection_attempts = 1
        try:
            pika.BlockingConnection(params).close()
        except Exception:
            return False
        return True


def step_options(settings: Settings, *, throws: tuple[type[BaseException], ...] = ()) -> dict[str, object]:
    """Dramatiq options of a saga step: bounded retries with backoff; ``throws`` never retried."""
    options: dict[str, object] = {
        "max_retries": settings.step_max_retries,
        "min_backoff": settings.min_backoff_ms,
        "max_backoff": settings.max_backoff_ms,
    }
    if throws:
        options["throws"] = throws
    return options


def compensation_options(settings: Settings) -> dict[str, object]:
    """Dramatiq options of a compensation: retried until it succeeds (``max_retries=None``)."""
    return {"max_retries": None, "min_backoff": settings.min_backoff_ms, "max_backoff": COMPENSATION_MAX_BACKOFF_MS}

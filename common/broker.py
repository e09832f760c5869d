"""Building the Dramatiq broker, before any actor is declared.

There is no implicit global broker at import time: every entrypoint calls :func:`build_broker`
first, then declares its actors on it. RabbitMQ runs with publisher confirms (an ``enqueue``
returns only once the broker has the message) and durable queues with persistent messages,
which Dramatiq's RabbitMQ broker always uses. Without ``BROKER_URL`` the in-process stub broker
serves the embedded default.
"""

from __future__ import annotations

import time

import dramatiq
import pika
from dramatiq import Broker
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from common.settings import Settings

#: Default retry policy: exponential backoff with jitter between these bounds (milliseconds).
MIN_BACKOFF_MS = 500
MAX_BACKOFF_MS = 60_000
MAX_RETRIES = 8


def _middleware() -> list[dramatiq.Middleware]:
    return [
        AgeLimit(),
        TimeLimit(time_limit=300_000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS, max_retries=MAX_RETRIES),
        CurrentMessage(),
    ]


def build_broker(settings: Settings) -> Broker:
    """The broker for this process, set as Dramatiq's global one (the CLI looks there)."""
    broker: Broker
    if settings.embedded:
        broker = StubBroker(middleware=_middleware())
        broker.emit_after("process_boot")
    else:
        broker = RabbitmqBroker(url=settings.broker_url, confirm_delivery=True, middleware=_middleware())
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
    return {"max_retries": None, "min_backoff": settings.min_backoff_ms, "max_backoff": 5 * 60_000}

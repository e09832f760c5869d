"""Queue depth, consumers and unacknowledged messages of a service's queues, from the broker.

RabbitMQ's management API gives all three (``Settings.rabbitmq_management_url``, from
``RABBITMQ_MANAGEMENT_URL``, e.g. ``http://guest:guest@127.0.0.1:15672``;
``deploy/local/ensure_services.sh`` enables the plugin).
Without it, a passive ``queue.declare`` still gives depth and consumers. The embedded stub
broker reports its in-memory queue sizes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pika
import requests
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, xq_name


def _vhost(broker_url: str) -> str:
    path = urlsplit(broker_url).path.lstrip("/")
    return unquote(path) if path else "/"


def _from_management(base: str, vhost: str, queue: str) -> dict[str, Any] | None:
    parts = urlsplit(base)
    auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))
    root = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}"
    try:
        response = requests.get(f"{root}/api/queues/{quote(vhost, safe='')}/{quote(queue, safe='')}",
                                auth=auth, timeout=2)
    except requests.RequestException:
        return None
    if response.status_code == 404:
        return {"queue": queue, "messages": 0, "consumers": 0, "unacked": 0, "source": "management"}
    if response.status_code != 200:
        return None
    body = response.json()
    rates = body.get("message_stats") or {}
    return {
        "queue": queue,
        "messages": body.get("messages_ready", 0),
        "consumers": body.get("consumers", 0),
        "unacked": body.get("messages_unacknowledged", 0),
        "publish_rate": (rates.get("publish_details") or {}).get("rate"),
        "ack_rate": (rates.get("ack_details") or {}).get("rate"),
        "source": "management",
    }


def _from_declare(broker_url: str, queues: list[str]) -> list[dict[str, Any]]:
    params = pika.URLParameters(broker_url)
    params.socket_timeout = 2
    params.connection_attempts = 1
    connection = pika.BlockingConnection(params)
    try:
        stats = []
        for queue in queues:
            channel = connection.channel()
            try:
                frame = channel.queue_declare(queue, passive=True).method
                stats.append({"queue": queue, "messages": frame.message_count, "consumers": frame.consumer_count,
                              "unacked": None, "source": "declare"})
            except pika.exceptions.ChannelClosedByBroker:
                stats.append({"queue": queue, "messages": 0, "consumers": 0, "unacked": None, "source": "declare"})
        return stats
    finally:
        connection.close()


def queue_stats(service: str, broker_url: str, broker: Any = None, management_url: str = "") -> list[dict[str, Any]]:
    """Stats of ``service``'s work, delay and dead-letter queues (``[]`` if the broker is down).

    ``management_url`` is RabbitMQ's management API; without it, a passive declare per queue.
    """
    from common.messaging.contracts import queues_of

    queues = [name for main in queues_of(service) for name in (main, dq_name(main), xq_name(main))]
    if isinstance(broker, StubBroker):
        return [{"queue": q, "messages": broker.queues[q].qsize() if q in broker.queues else 0,
                 "consumers": None, "unacked": None, "source": "stub"} for q in queues]
    if not broker_url:
        return []
    if management_url:
        stats = [_from_management(management_url, _vhost(broker_url), q) for q in queues]
        if all(s is not None for s in stats):
            return stats  # type: ignore[return-value]
    try:
        return _from_declare(broker_url, queues)
    except Exception:
        return []

"""The machine's own ceilings, measured in the same run as the system: RabbitMQ and PostgreSQL raw.

- RabbitMQ: persistent 1 KiB messages to a durable queue, published with publisher confirms (pika's
  ``BlockingChannel.confirm_delivery``: every ``basic_publish`` waits for its confirm, which is what
  Dramatiq's RabbitMQ broker does for the relay), then consumed with ``basic_qos`` prefetch and one
  ``basic_ack`` per message (as a Dramatiq worker does). 1 publisher, then 5 concurrent publishers
  (one per service relay); 1 consumer, then 5 (one per service worker). Each client is a process.
- PostgreSQL: small ``INSERT`` + ``COMMIT`` transactions on a scratch table in a scratch database,
  1 client then 8 concurrent clients (processes, psycopg 3); then 8 clients again with a ``NOTIFY``
  in each transaction, as loanflow's unit of work does when it wrote outbox rows (PostgreSQL
  serialises the commits of notifying transactions under one cluster-wide lock).

Every client process connects, waits at a barrier with the others, then counts for the same time.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

import pika
import psycopg

from tests.support import servers

QUEUE = "bench.ceiling"
BODY = b'{"x": "' + b"0" * 1000 + b'"}'
SPAWN = multiprocessing.get_context("fork")  # no thread runs in the harness yet


def _client(target: Any, args: tuple[Any, ...], barrier: Any, results: Any) -> None:
    """Run one client: it connects, waits at the barrier with the others, then counts."""
    results.put(target(*args, barrier))


def _run(target: Any, clients: int, args: tuple[Any, ...]) -> dict[str, Any]:
    """``clients`` processes of ``target(*args, barrier) -> (count, started, ended)`` at once."""
    barrier, results = SPAWN.Barrier(clients), SPAWN.Queue()
    processes = [SPAWN.Process(target=_client, args=(target, args, barrier, results), daemon=True)
                 for _ in range(clients)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    count = sum(o[0] for o in outcomes)
    elapsed = max(1e-6, max(o[2] for o in outcomes) - min(o[1] for o in outcomes))
    return {"clients": clients, "count": count, "seconds": round(elapsed, 3), "rate": round(count / elapsed, 1)}


def _publisher(url: str, seconds: float, barrier: Any) -> tuple[int, float, float]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    properties = pika.BasicProperties(delivery_mode=2, content_type="application/json")
    barrier.wait()
    started = time.time()
    end = started + seconds
    count = 0
    while (now := time.time()) < end:
        channel.basic_publish(exchange="", routing_key=QUEUE, body=BODY, properties=properties, mandatory=True)
        count += 1
    connection.close()
    return count, started, now


def _consumer(url: str, seconds: float, prefetch: int, barrier: Any) -> tuple[int, float, float]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=prefetch)
    barrier.wait()
    started = time.time()
    end = started + seconds
    count, last = 0, started
    for method, _properties, _body in channel.consume(QUEUE, inactivity_timeout=1.0):
        if method is None:  # the queue ran dry: the window ends at the last message
            break
        channel.basic_ack(method.delivery_tag)
        count += 1
        last = time.time()
        if last >= end:
            break
    channel.cancel()
    connection.close()
    return count, started, last


def _queue_depth(url: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    depth = connection.channel().queue_declare(QUEUE, durable=True, passive=True).method.message_count
    connection.close()
    return depth


def reset_vhost(vhost: str) -> None:
    """An empty virtual host on the node the tests and the stack use (tried again when busy)."""
    servers.current.rabbitmq.reset_vhost(vhost)


def _fill(url: str, depth: int) -> int:
    """Top the queue up to ``depth`` messages (no confirms: only the consumers are measured next)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    missing = max(0, depth - channel.queue_declare(QUEUE, durable=True, passive=True).method.message_count)
    properties = pika.BasicProperties(delivery_mode=2, content_type="application/json")
    for _ in range(missing):
        channel.basic_publish(exchange="", routing_key=QUEUE, body=BODY, properties=properties)
    connection.close()
    return missing


def rabbitmq(vhost: str, seconds: float, publishers: int = 5, consumers: int = 5, prefetch: int = 16,
             fill: int = 30_000) -> dict[str, Any]:
    """Publish and consume rates on a durable queue of a scratch virtual host (deleted afterwards).

    Before each consume run the queue is topped up to ``fill`` messages, so that the consumers
    are measured on a full window rather than on a queue that runs dry.
    """
    reset_vhost(vhost)
    url = servers.current.rabbitmq.amqp_url(vhost)
    try:
        connection = pika.BlockingConnection(pika.URLParameters(url))
        connection.channel().queue_declare(QUEUE, durable=True)
        connection.close()
        results: dict[str, Any] = {"message_bytes": len(BODY), "prefetch": prefetch}
        results["publish_1"] = _run(_publisher, 1, (url, seconds))
        results["publish_n"] = _run(_publisher, publishers, (url, seconds))
        _fill(url, fill)
        results["consume_1"] = _run(_consumer, 1, (url, seconds, prefetch))
        _fill(url, fill)
        results["consume_n"] = _run(_consumer, consumers, (url, seconds, prefetch))
        results["left_in_queue"] = _queue_depth(url)
        return results
    finally:
        servers.current.rabbitmq.delete_vhost(vhost)


def _inserter(dsn: str, seconds: float, notify: bool, barrier: Any) -> tuple[int, float, float]:
    with psycopg.connect(dsn) as connection:
        barrier.wait()
        started = time.time()
        end = started + seconds
        count = 0
        while (now := time.time()) < end:
            connection.execute("INSERT INTO scratch (payload) VALUES (%s)", ("a small row of about fifty bytes, "
                                                                            "like a processed id",))
            if notify:  # what the unit of work adds when it wrote outbox rows (wakes the relays)
                connection.execute("NOTIFY bench_scratch")
            connection.commit()
            count += 1
    return count, started, now


def admin_dsn(database: str = "postgres") -> str:
    """A libpq URL for ``database`` on the server the tests and the stack use."""
    return servers.current.postgres.admin_url.replace("postgresql+psycopg://", "postgresql://") + f"/{database}"


def postgres(database: str, seconds: float, many: int = 8) -> dict[str, Any]:
    """INSERT+COMMIT transactions per second with 1 and ``many`` clients, in a scratch database."""
    with psycopg.connect(admin_dsn(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database}"')
        settings = {name: admin.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
                    for name in ("server_version", "synchronous_commit", "fsync", "wal_sync_method",
                                 "shared_buffers", "max_connections")}
    dsn = admin_dsn(database)
    try:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute("CREATE TABLE scratch (id bigserial PRIMARY KEY, payload text NOT NULL, "
                               "created_at timestamptz NOT NULL DEFAULT now())")
        results: dict[str, Any] = {"settings": settings}
        results["insert_commit_1"] = _run(_inserter, 1, (dsn, seconds, False))
        results["insert_commit_n"] = _run(_inserter, many, (dsn, seconds, False))
        results["insert_notify_commit_n"] = _run(_inserter, many, (dsn, seconds, True))
        return results
    finally:
        with psycopg.connect(admin_dsn(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

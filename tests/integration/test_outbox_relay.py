"""The outbox relay on real PostgreSQL and real RabbitMQ."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pika
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select

from common.relay import OutboxRelay
from common.runtime import Runtime
from loan_app import handlers
from loan_app.service import definition
from tests.conftest import SUFFIX, make_settings
from tests.support import servers as session_servers
from tests.support.databases import truncate_all
from tests.support.payloads import application
from tests.support.servers import Servers
from tests.support.stack import reset_vhost

VHOST = f"loanflow_test_relay{SUFFIX}"


@pytest.fixture
def rt(pg_urls: dict[str, str]) -> Iterator[Runtime]:
    truncate_all("loan", pg_urls["loan"])
    runtime = Runtime(definition(), make_settings("loan", pg_urls["loan"]))
    yield runtime
    runtime.dispose()


@pytest.fixture
def rabbit(servers: Servers) -> Iterator[RabbitmqBroker]:
    reset_vhost(VHOST)
    broker = RabbitmqBroker(url=url(), confirm_delivery=True)
    yield broker
    broker.close()


def url() -> str:
    """The relay's scratch virtual host on the session's node."""
    return session_servers.current.rabbitmq.amqp_url(VHOST)


def queue_depth(queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url()))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def test_relay_publishes_committed_rows_and_marks_them(rt: Runtime, rabbit: RabbitmqBroker) -> None:
    ids = [handlers.submit(rt.uow(), application(), rt.settings).id for _ in range(5)]
    relay = OutboxRelay(rt.session_factory, rt.definition.outbox_model, rabbit, batch_size=4)
    batches = [relay.run_once() for _ in range(5)]
    assert batches == [4, 4, 4, 3, 0]
    # Per application: ApplicationSubmitted to loan and notify, ApplicationStatusChanged to notify.
    assert queue_depth("loan") == len(ids)
    assert queue_depth("notify") == 2 * len(ids)
    model = rt.definition.outbox_model
    with rt.session_factory() as session:
        assert session.scalars(select(model).where(model.sent_at.is_(None))).first() is None


def test_message_id_is_the_outbox_row_id(rt: Runtime) -> None:
    broker = StubBroker()
    broker.declare_queue("loan")
    broker.declare_queue("notify")
    application_id = handlers.submit(rt.uow(), application(), rt.settings).id
    OutboxRelay(rt.session_factory, rt.definition.outbox_model, broker).run_once()
    model = rt.definition.outbox_model
    with rt.session_factory() as session:
        row = session.scalars(select(model).where(model.application_id == application_id, model.queue == "loan")).one()
    message = broker.queues["loan"].get_nowait()
    assert row.id in message.decode()


def test_broker_down_keeps_rows_for_later(rt: Runtime, rabbit: RabbitmqBroker) -> None:
    handlers.submit(rt.uow(), application(), rt.settings)
    dead = RabbitmqBroker(url="amqp://guest:guest@127.0.0.1:1/%2F", confirm_delivery=True)
    relay = OutboxRelay(rt.session_factory, rt.definition.outbox_model, dead)
    assert relay.run_once() == 0
    model = rt.definition.outbox_model
    with rt.session_factory() as session:
        pending = session.scalars(select(model).where(model.sent_at.is_(None))).all()
    assert len(pending) == 3
    # The relay stops at the first refusal: one row tried, with its error, the others untouched.
    tried = [row for row in pending if row.attempts]
    assert len(tried) == 1 and tried[0].attempts == 1 and tried[0].last_error
    assert OutboxRelay(rt.session_factory, model, rabbit).run_once() == 3


def test_concurrent_relays_never_publish_a_row_twice(rt: Runtime, rabbit: RabbitmqBroker) -> None:
    for _ in range(40):
        handlers.submit(rt.uow(), application(), rt.settings)
    published: list[str] = []
    lock = threading.Lock()

    class Recording(StubBroker):
        def enqueue(self, message, *, delay=None):  # type: ignore[no-untyped-def]
            with lock:
                published.append(message.message_id)
            return message

    relays = [OutboxRelay(rt.session_factory, rt.definition.outbox_model, Recording(), batch_size=7)
              for _ in range(3)]

    def drain(relay: OutboxRelay) -> None:
        while relay.run_once():
            pass

    threads = [threading.Thread(target=drain, args=(relay,)) for relay in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(published) == 120
    assert len(set(published)) == 120
    assert sum(relay.published_total for relay in relays) == 120


def test_a_commit_with_outbox_rows_wakes_a_listening_relay_at_once(rt: Runtime) -> None:
    from common.wakeup import PostgresWakeup

    wakeup = PostgresWakeup(rt.settings.database_url)
    assert wakeup.wait(0.05) is False  # LISTEN is set up; nothing committed yet
    threading.Timer(0.2, lambda: handlers.submit(rt.uow(), application(), rt.settings)).start()
    started = time.monotonic()
    assert wakeup.wait(10) is True
    assert time.monotonic() - started < 5  # woken by NOTIFY, not by the 10 s timeout

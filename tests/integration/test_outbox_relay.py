"""The outbox relay on real PostgreSQL and real RabbitMQ."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pika
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select

from common.messaging.relay import OutboxRelay
from common.service.runtime import Runtime
from loan_app import commands
from tests.conftest import SUFFIX
from tests.support import servers as session_servers
from tests.support.payloads import application
from tests.support.servers import Servers
from tests.support.stack import reset_vhost

VHOST = f"loanflow_test_relay{SUFFIX}"


@pytest.fixture
def rt(runtime_of: Callable[..., Runtime]) -> Runtime:
    return runtime_of("loan")


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
    ids = [commands.submit(rt, application()).id for _ in range(5)]
    relay = OutboxRelay(rt.session_factory, rt.definition.outbox_model, rabbit, batch_size=4)
    batches = [relay.run_once() for _ in range(8)]
    assert batches == [4, 4, 4, 4, 4, 4, 1, 0]
    # Per application: two ApplicationStatusChanged and ApplicationSubmitted to notify, the two steps.
    assert queue_depth("credit") == queue_depth("property") == len(ids)
    assert queue_depth("notify") == 3 * len(ids)
    model = rt.definition.outbox_model
    with rt.session_factory() as session:
        assert session.scalars(select(model).where(model.sent_at.is_(None))).first() is None


def stub_broker() -> StubBroker:
    """An in-process broker with the queues a submission's messages go to."""
    broker = StubBroker()
    for queue in ("credit", "property", "notify"):
        broker.declare_queue(queue)
    return broker


def test_message_id_is_the_outbox_row_id(rt: Runtime) -> None:
    broker = stub_broker()
    application_id = commands.submit(rt, application()).id
    OutboxRelay(rt.session_factory, rt.definition.outbox_model, broker).run_once()
    model = rt.definition.outbox_model
    with rt.session_factory() as session:
        row = session.scalars(select(model).where(model.application_id == application_id,
                                                  model.queue == "credit")).one()
    message = broker.queues["credit"].get_nowait()
    assert row.id in message.decode()


def test_broker_down_keeps_rows_for_later(rt: Runtime, rabbit: RabbitmqBroker) -> None:
    commands.submit(rt, application())
    dead = RabbitmqBroker(url="amqp://guest:guest@127.0.0.1:1/%2F", confirm_delivery=True)
    relay = OutboxRelay(rt.session_factory, rt.definition.outbox_model, dead)
    assert relay.run_once() == 0
    model = rt.definition.outbox_model
    with rt.session_factory() as session:
        pending = session.scalars(select(model).where(model.sent_at.is_(None))).all()
    assert len(pending) == 5
    # The relay stops at the first refusal: one row tried, with its error, the others untouched.
    tried = [row for row in pending if row.attempts]
    assert len(tried) == 1 and tried[0].attempts == 1 and tried[0].last_error
    assert OutboxRelay(rt.session_factory, model, rabbit).run_once() == 5


def test_concurrent_relays_never_publish_a_row_twice(rt: Runtime, rabbit: RabbitmqBroker) -> None:
    for _ in range(40):
        commands.submit(rt, application())
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
    assert len(published) == 200
    assert len(set(published)) == 200
    assert sum(relay.published_total for relay in relays) == 200


def test_a_commit_with_outbox_rows_wakes_a_listening_relay_at_once(rt: Runtime) -> None:
    from common.messaging.wakeup import PostgresWakeup

    wakeup = PostgresWakeup(rt.settings.database_url)
    assert wakeup.wait(0.05) is False  # LISTEN is set up; nothing committed yet
    threading.Timer(0.2, lambda: commands.submit(rt, application())).start()
    started = time.monotonic()
    assert wakeup.wait(10) is True
    assert time.monotonic() - started < 5  # woken by NOTIFY, not by the 10 s timeout


def poison_row(rt: Runtime, **changes: object) -> str:
    """An outbox row the relay can never publish (``changes`` make it so), older than the others."""
    from common.kernel.clock import utcnow
    from common.messaging.outbox import new_id

    row = {"id": new_id(), "event_id": new_id(), "message_type": "ApplicationSubmitted", "queue": "loan",
           "actor": "loan.application_submitted", "application_id": new_id(), "correlation_id": None,
           "payload": {"occurred_at": "2026-11-29T08:00:00+00:00"}, "created_at": utcnow() - timedelta(minutes=1),
           **changes}
    with rt.session_factory() as session, session.begin():
        session.add(rt.definition.outbox_model(**row))
    return str(row["id"])


def test_a_poison_row_is_parked_and_the_rows_after_it_keep_flowing(rt: Runtime, rabbit: RabbitmqBroker) -> None:
    from prometheus_client import REGISTRY

    from common.identity.roles import OPERATOR
    from common.messaging.relay import POISON_ATTEMPTS
    from common.service.entrypoints import web_app
    from tests.conftest import staff_token

    refused = poison_row(rt, queue="amq.refused", actor="loan.application_submitted")  # RabbitMQ: 403
    malformed = poison_row(rt, payload={"no": "occurred_at"})  # cannot be made into a message
    counted_before = REGISTRY.get_sample_value("loanflow_outbox_parked_total", {"queue": "loan"}) or 0
    for _ in range(3):
        commands.submit(rt, application())
    relay = OutboxRelay(rt.session_factory, rt.definition.outbox_model, rabbit)
    assert relay.run_once() == 15  # the good rows went out in the first round, past the poison
    assert queue_depth("credit") == 3 and queue_depth("notify") == 9
    assert [relay.run_once() for _ in range(POISON_ATTEMPTS)] == [0] * POISON_ATTEMPTS
    model = rt.definition.outbox_model
    with rt.session_factory() as session:
        rows = {row.id: row for row in session.scalars(select(model).where(model.sent_at.is_(None)))}
    assert set(rows) == {refused, malformed}
    assert all(row.parked_at is not None and row.attempts == POISON_ATTEMPTS for row in rows.values())
    assert "ACCESS_REFUSED" in rows[refused].last_error and "KeyError" in rows[malformed].last_error
    assert REGISTRY.get_sample_value("loanflow_outbox_parked_total", {"queue": "loan"}) == counted_before + 1
    assert REGISTRY.get_sample_value("loanflow_outbox_parked_total", {"queue": "amq.refused"}) >= 1

    client = web_app("loan", rt.settings, rt=rt).test_client()
    staff = {"Authorization": f"Bearer {staff_token(OPERATOR, 'omar')}"}
    assert {row["id"] for row in client.get("/loan/outbox/parked", headers=staff).json} == {refused, malformed}
    assert 'loanflow_outbox_parked_rows{service="loan"} 2.0' in client.get("/loan/metrics").text
    assert client.post(f"/loan/outbox/{malformed}/retry", headers=staff).json["attempts"] == 0
    assert client.post(f"/loan/outbox/{malformed}/retry", headers=staff).status_code == 409
    assert [row["id"] for row in client.get("/loan/outbox/parked", headers=staff).json] == [refused]
    assert client.get("/loan/operator-actions", headers=staff).json[0]["action"] == "outbox-retry"


def test_the_fault_switch_exits_after_the_publish_and_before_the_mark(rt: Runtime,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """``Settings.fault_exit_after_publish`` (the crash tests' LOANFLOW_FAULT_EXIT_AFTER_PUBLISH)."""
    broker = stub_broker()
    commands.submit(rt, application())
    exits: list[int] = []

    def exit_now(code: int) -> None:
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr("common.messaging.relay.os._exit", exit_now)
    with pytest.raises(SystemExit):
        OutboxRelay(rt.session_factory, rt.definition.outbox_model, broker, exit_after_publish=True).run_once()
    assert exits == [17]
    assert sum(queue.qsize() for queue in broker.queues.values()) == 1
    model = rt.definition.outbox_model
    with rt.session_factory() as session:
        assert session.scalars(select(model).where(model.sent_at.is_not(None))).first() is None


def test_published_messages_are_dramatiq_messages_in_dramatiq_queues(rt: Runtime, rabbit: RabbitmqBroker) -> None:
    """The pipelined publisher sends what ``RabbitmqBroker.enqueue`` would: same body, persistent,
    to queues declared with Dramatiq's arguments (Dramatiq declaring them again must agree)."""
    import dramatiq

    from common.messaging.relay import to_message

    application_id = commands.submit(rt, application()).id
    assert OutboxRelay(rt.session_factory, rt.definition.outbox_model, rabbit).run_once() == 5
    rabbit.declare_queue("credit", ensure=True)  # PRECONDITION_FAILED if our arguments differed
    model = rt.definition.outbox_model
    with rt.session_factory() as session:
        row = session.scalars(select(model).where(model.application_id == application_id,
                                                  model.queue == "credit")).one()
    connection = pika.BlockingConnection(pika.URLParameters(url()))
    try:
        _method, properties, body = connection.channel().basic_get("credit", auto_ack=True)
    finally:
        connection.close()
    assert properties.delivery_mode == 2
    message = dramatiq.Message.decode(body)
    assert message.message_id == row.id and message == to_message(row)
    assert message.options["application_id"] == application_id and message.message_timestamp > 0


def test_a_queue_deleted_under_the_relay_is_declared_again(rt: Runtime, rabbit: RabbitmqBroker) -> None:
    """RabbitMQ returns a message whose queue is gone (mandatory): not marked sent, sent next round."""
    commands.submit(rt, application())
    relay = OutboxRelay(rt.session_factory, rt.definition.outbox_model, rabbit)
    assert relay.run_once() == 5
    connection = pika.BlockingConnection(pika.URLParameters(url()))
    try:
        connection.channel().queue_delete("credit")
    finally:
        connection.close()
    commands.submit(rt, application())
    assert relay.run_once() == 4  # the notify and property rows; credit's was returned unroutable
    model = rt.definition.outbox_model
    with rt.session_factory() as session:
        [pending] = session.scalars(select(model).where(model.sent_at.is_(None))).all()
    assert pending.queue == "credit" and pending.attempts == 1 and "NO_ROUTE" in pending.last_error
    assert relay.run_once() == 1
    assert queue_depth("credit") == 1


def test_a_broker_lost_mid_batch_keeps_the_unconfirmed_rows(rt: Runtime, rabbit: RabbitmqBroker) -> None:
    """The relay's connection dies between batches: the next batch reports it and waits; the one after
    reconnects and publishes everything, each row once marked."""
    for _ in range(3):
        commands.submit(rt, application())
    relay = OutboxRelay(rt.session_factory, rt.definition.outbox_model, rabbit, batch_size=4)
    assert relay.run_once() == 4
    import socket

    relay.publisher.connection._impl._transport._sock.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]
    assert relay.run_once() == 0
    model = rt.definition.outbox_model
    with rt.session_factory() as session:
        tried = [row for row in session.scalars(select(model).where(model.sent_at.is_(None))) if row.attempts]
    assert len(tried) == 1 and tried[0].parked_at is None
    assert [relay.run_once() for _ in range(3)] == [4, 4, 3]  # 15 rows, 4 sent before the loss
    assert queue_depth("credit") == queue_depth("property") == 3 and queue_depth("notify") == 9

"""Retries, give-up, dead letters and their replay: a real Dramatiq worker on real PostgreSQL.

The worker runs on the stub broker so that timing is in the test's hands; the parts that talk
to RabbitMQ (draining ``<queue>.XQ``) use the real server.
"""

from __future__ import annotations

from collections.abc import Callable

import dramatiq
import pika
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from common.identity.roles import ADMIN, OPERATOR
from common.messaging.broker import build_broker
from common.messaging.consumers import register_actors
from common.messaging.deadletters import drain_dead_letter_queue
from common.messaging.outbox import new_id
from common.messaging.relay import OutboxRelay
from common.service.entrypoints import web_app
from common.service.runtime import Runtime
from credit_app.service import definition
from tests.conftest import SUFFIX, make_settings, staff_token
from tests.support.databases import sql, truncate_all
from tests.support.messages import outbox, run_until_idle
from tests.support.polling import eventually
from tests.support.servers import Servers
from tests.support.stack import reset_vhost

STAFF = {"Authorization": f"Bearer {staff_token(OPERATOR, 'alice')}"}
APPLICANT = {"full_name": "Alice Propre", "birth_date": "1992-04-15", "employment_status": "permanent",
             "monthly_income": "5200.00", "monthly_debts": "0.00"}


@pytest.fixture
def rt(runtime_of: Callable[..., Runtime]) -> Runtime:
    return runtime_of("credit", bureau_url="http://127.0.0.1:9")  # no bureau there: every check fails, transient


def check_credit(broker: dramatiq.Broker, application_id: str) -> dramatiq.Message:
    wire = {"event_id": new_id(), "type": "CheckCredit", "application_id": application_id,
            "correlation_id": application_id, "occurred_at": "2026-11-25T09:00:00+00:00",
            "data": {"applicant": APPLICANT, "round": 1}}
    return broker.enqueue(dramatiq.Message(queue_name="credit", actor_name="credit.check_credit", args=(wire,),
                                           kwargs={}, options={}))


def test_retries_spent_park_the_message_and_fail_the_step(rt: Runtime) -> None:
    broker = build_broker(rt.settings)
    register_actors(rt, broker)
    application_id = new_id()
    message = check_credit(broker, application_id)
    run_until_idle(broker, "credit")

    tables = rt.definition.tables
    with rt.session_factory() as session:
        attempts = session.scalars(select(tables.attempts).order_by(tables.attempts.id)).all()
        letter = session.scalars(select(tables.dead_letters)).one()
    assert [a.outcome for a in attempts] == ["retrying", "retrying", "dead"]
    assert all("BureauUnavailable" in a.error and a.traceback for a in attempts)
    assert letter.message_id == message.message_id and letter.status == "PARKED"
    failed = [row for row in outbox(rt, application_id) if row.message_type == "CreditCheckFailed"]
    assert len(failed) == 1
    assert failed[0].payload["code"] == "CREDIT_CHECK_UNAVAILABLE"


def test_staff_replay_keeps_the_message_id_and_is_audited(rt: Runtime) -> None:
    broker = build_broker(rt.settings)
    register_actors(rt, broker)
    message = check_credit(broker, new_id())
    run_until_idle(broker, "credit")
    client = web_app("credit", rt.settings, rt=rt).test_client()

    listed = client.get("/credit/dead-letters?status=PARKED", headers=STAFF)
    assert listed.status_code == 200 and len(listed.json) == 1
    letter_id = listed.json[0]["id"]
    detail = client.get(f"/credit/dead-letters/{letter_id}", headers=STAFF).json
    assert detail["message"]["args"][0]["data"]["applicant"]["full_name"] == "***"  # masked
    assert "BureauUnavailable" in detail["traceback"]
    assert client.get("/credit/dead-letters", headers={"Authorization": "Bearer nope"}).status_code == 401

    replayed = client.post(f"/credit/dead-letters/{letter_id}/replay", headers=STAFF)
    assert replayed.status_code == 200 and replayed.json["status"] == "REPLAYED"
    assert client.post(f"/credit/dead-letters/{letter_id}/replay", headers=STAFF).status_code == 409
    rows = [r for r in outbox(rt) if r.message_id == message.message_id]
    assert len(rows) == 1 and rows[0].actor == "credit.check_credit"
    stub = dramatiq.brokers.stub.StubBroker()
    stub.declare_queue("credit")
    stub.declare_queue("loan")
    OutboxRelay(rt.session_factory, rt.definition.outbox_model, stub).run_once()
    republished = dramatiq.Message.decode(stub.queues["credit"].get_nowait())
    assert republished.message_id == message.message_id
    actions = client.get("/credit/operator-actions", headers=STAFF).json
    assert actions[0]["action"] == "replay" and actions[0]["operator"] == "alice"


def test_discard_and_purge(rt: Runtime) -> None:
    broker = build_broker(rt.settings)
    register_actors(rt, broker)
    for _ in range(3):
        check_credit(broker, new_id())
    run_until_idle(broker, "credit")
    client = web_app("credit", rt.settings, rt=rt).test_client()
    first = client.get("/credit/dead-letters", headers=STAFF).json[0]["id"]
    assert client.post(f"/credit/dead-letters/{first}/discard", headers=STAFF).json["status"] == "DISCARDED"
    # Purging is an admin's: an operator discards one letter at a time.
    assert client.post("/credit/dead-letters/purge", headers=STAFF).status_code == 403
    admin = {"Authorization": f"Bearer {staff_token(ADMIN, 'ada')}"}
    assert client.post("/credit/dead-letters/purge", headers=admin).json == {"discarded": 2}
    assert client.get("/credit/dead-letters?status=PARKED", headers=STAFF).json == []
    assert [(a["action"], a["operator"]) for a in client.get("/credit/operator-actions", headers=STAFF).json] == [
        ("purge", "ada"), ("discard", "alice")]


def test_task_history_of_an_application(rt: Runtime) -> None:
    broker = build_broker(rt.settings)
    register_actors(rt, broker)
    application_id = new_id()
    check_credit(broker, application_id)
    run_until_idle(broker, "credit")
    client = web_app("credit", rt.settings, rt=rt).test_client()
    tasks = client.get(f"/credit/tasks?application_id={application_id}", headers=STAFF).json
    assert len(tasks) == 1
    assert tasks[0]["state"] == "dead" and len(tasks[0]["attempts"]) == 3


def test_a_retry_that_cannot_be_re_enqueued_is_parked_not_lost(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """dramatiq PR #545: the delayed re-enqueue fails (broker gone); the message must not be acked away."""
    from common.messaging import broker as broker_module

    monkeypatch.setattr(broker_module.SafeRetries, "REENQUEUE_WAITS", (0.01,))
    broker = build_broker(rt.settings.with_overrides(step_max_retries=5))
    register_actors(rt, broker)
    original = broker.enqueue

    def enqueue(message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
        if delay is not None:
            raise dramatiq.errors.ConnectionClosed(OSError("broker connection lost"))
        return original(message, delay=delay)

    broker.enqueue = enqueue  # type: ignore[method-assign]
    message = check_credit(broker, new_id())
    run_until_idle(broker, "credit")
    with rt.session_factory() as session:
        letter = session.scalars(select(rt.definition.tables.dead_letters)).one()
    assert letter.message_id == message.message_id
    assert broker.dead_letters  # nacked to the dead-letter queue, not acked


def test_the_dead_letter_queue_is_drained_into_the_table(rt: Runtime, servers: Servers) -> None:
    vhost = f"loanflow_test_dlq{SUFFIX}"
    reset_vhost(vhost)
    url = servers.rabbitmq.amqp_url(vhost)
    rabbit = RabbitmqBroker(url=url, confirm_delivery=True)
    rabbit.declare_queue("credit", ensure=True)
    messages = [dramatiq.Message(queue_name="credit", actor_name="credit.check_credit",
                                 args=({"type": "CheckCredit", "application_id": new_id(), "data": {}},),
                                 kwargs={}, options={}) for _ in range(3)]
    channel = rabbit.channel
    for message in messages:
        channel.basic_publish("", "credit.XQ", message.encode())
    rabbit.close()
    rt.settings = rt.settings.with_overrides(broker_url=url)
    rt.broker = RabbitmqBroker(url=url)
    assert drain_dead_letter_queue(rt) == 3
    assert drain_dead_letter_queue(rt) == 0
    connection = pika.BlockingConnection(pika.URLParameters(url))
    assert connection.channel().queue_declare("credit.XQ", passive=True).method.message_count == 0
    connection.close()
    with rt.session_factory() as session:
        parked = {row.message_id for row in session.scalars(select(rt.definition.tables.dead_letters))}
    assert parked == {m.message_id for m in messages}


def vhost_connections(servers: Servers, vhost: str) -> int:
    """Connections RabbitMQ has open on ``vhost`` right now."""
    return servers.rabbitmq.ctl("list_connections", "vhost").stdout.split().count(vhost)


def test_draining_while_the_database_is_down_leaks_no_broker_connection(rt: Runtime, servers: Servers) -> None:
    vhost = f"loanflow_test_dlq_down{SUFFIX}"
    reset_vhost(vhost)
    url = servers.rabbitmq.amqp_url(vhost)
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.queue_declare("credit.XQ", durable=True)
    message = dramatiq.Message(queue_name="credit", actor_name="credit.check_credit", args=({"type": "CheckCredit"},),
                               kwargs={}, options={})
    channel.basic_publish("", "credit.XQ", message.encode())
    connection.close()
    down = Runtime(definition(), rt.settings.with_overrides(
        broker_url=url, database_url="postgresql+psycopg://postgres@127.0.0.1:1/unreachable"))
    try:
        for _ in range(3):  # three rounds of the relay's periodic drain, the database still down
            with pytest.raises(OperationalError):
                drain_dead_letter_queue(down)
        assert eventually(lambda: vhost_connections(servers, vhost), lambda count: count == 0, 10) == 0
    finally:
        down.dispose()
    connection = pika.BlockingConnection(pika.URLParameters(url))
    assert connection.channel().queue_declare("credit.XQ", passive=True).method.message_count == 1  # not lost
    connection.close()


#: Personal data a refused statement would quote (PostgreSQL: "DETAIL: Failing row contains (…)").
CONTACT = {"full_name": "Quxbaz Erreurdebase", "email": "quxbaz.erreurdebase@example.org", "language": "en"}


def test_a_step_failing_on_a_database_error_stores_no_personal_data(pg_urls: dict[str, str]) -> None:
    from common.messaging.broker import step_options
    from notify_app.service import definition as notify_definition

    truncate_all("notify", pg_urls["notify"])
    described = notify_definition()
    described.actor_options = lambda settings: {"ApplicationSubmitted": step_options(settings)}  # short retries
    notify = Runtime(described, make_settings("notify", pg_urls["notify"], extra={"smtp": "off"}))
    sql(pg_urls["notify"], "ALTER TABLE recipients ADD CONSTRAINT sentinel_refused "
                           "CHECK (full_name IS NULL OR full_name NOT LIKE '%Quxbaz%')")
    try:
        broker = build_broker(notify.settings)
        register_actors(notify, broker)
        application_id = new_id()
        wire = {"event_id": new_id(), "type": "ApplicationSubmitted", "application_id": application_id,
                "correlation_id": application_id, "occurred_at": "2026-11-29T09:00:00+00:00",
                "data": {"summary": {}, "contact": CONTACT}}
        broker.enqueue(dramatiq.Message(queue_name="notify", actor_name="notify.application_submitted",
                                        args=(wire,), kwargs={}, options={}))
        run_until_idle(broker, "notify")
    finally:
        sql(pg_urls["notify"], "ALTER TABLE recipients DROP CONSTRAINT IF EXISTS sentinel_refused")
    tables = notify.definition.tables
    with notify.session_factory() as session:
        letter = session.scalars(select(tables.dead_letters)).one()
        attempts = session.scalars(select(tables.attempts)).all()
    notify.dispose()
    texts = [letter.error, letter.traceback, *(a.error for a in attempts), *(a.traceback for a in attempts)]
    assert len(attempts) == 3 and all("CheckViolation" in t and "sentinel_refused" in t for t in texts)
    for value in (CONTACT["full_name"], CONTACT["email"]):
        assert not [t for t in texts if value in t], value

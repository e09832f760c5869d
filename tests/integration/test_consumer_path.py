"""The path every message takes (``apply_once``) on real PostgreSQL: the claim of its id as the
first statement, twins, failures, timings, and pooled connections the server closed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from common.messaging.consumers import apply_once
from common.messaging.outbox import new_id
from common.messaging.recorder import Notice
from common.service.runtime import Runtime
from tests.support.databases import sql, sql_value

ACTOR = "decision.make_decision"


@pytest.fixture
def rt(runtime_of: Callable[..., Runtime]) -> Runtime:
    return runtime_of("decision")


def wire(application_id: str = "app-1") -> dict[str, Any]:
    return {"event_id": new_id(), "type": "MakeDecision", "application_id": application_id,
            "correlation_id": application_id, "occurred_at": "2026-01-01T00:00:00+00:00", "data": {}}


def answer(envelope: Any, uow: Any) -> None:
    """Records one message and changes no row."""
    uow.track(Notice.about(envelope)).record("DecisionFailed", {"code": "X", "message": "m", "round": 1})


def test_a_message_is_claimed_with_its_timings_and_its_outbox_rows(rt: Runtime) -> None:
    message_id = new_id()
    enqueued = int(time.time() * 1000) - 250
    assert apply_once(rt, answer, ACTOR, message_id, wire(), enqueued) is True
    [row] = sql(rt.settings.database_url, "SELECT actor, application_id, duration_ms, latency_ms "
                                          "FROM processed_messages WHERE message_id = :m", m=message_id)
    assert row.actor == ACTOR and row.application_id == "app-1"
    assert row.duration_ms is not None and 250 <= row.latency_ms < 60_000
    assert sql_value(rt.settings.database_url, "SELECT count(*) FROM outbox WHERE message_type = 'DecisionFailed'") == 1
    assert apply_once(rt, answer, ACTOR, message_id, wire(), enqueued) is False  # redelivered: skipped
    assert sql_value(rt.settings.database_url, "SELECT count(*) FROM outbox") == 1


def test_a_failed_handler_leaves_no_claim_and_the_retry_applies_it(rt: Runtime) -> None:
    message_id = new_id()

    def broken(_envelope: Any, _uow: Any) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        apply_once(rt, broken, ACTOR, message_id, wire())
    assert sql_value(rt.settings.database_url, "SELECT count(*) FROM processed_messages") == 0
    assert apply_once(rt, answer, ACTOR, message_id, wire()) is True


def test_a_twin_delivered_meanwhile_waits_for_the_first_and_never_runs_the_handler(rt: Runtime) -> None:
    message_id, inside, release, runs = new_id(), threading.Event(), threading.Event(), []

    def slow(envelope: Any, uow: Any) -> None:
        runs.append(envelope.message_id)
        inside.set()
        assert release.wait(10)
        answer(envelope, uow)

    results: dict[str, bool] = {}
    first = threading.Thread(target=lambda: results.update(first=apply_once(rt, slow, ACTOR, message_id, wire())))
    first.start()
    assert inside.wait(10)
    twin = threading.Thread(target=lambda: results.update(twin=apply_once(rt, slow, ACTOR, message_id, wire())))
    twin.start()
    twin.join(0.5)
    assert twin.is_alive(), "the twin's claim must wait for the first transaction"
    release.set()
    first.join(10)
    twin.join(10)
    assert results == {"first": True, "twin": False} and runs == [message_id]
    assert sql_value(rt.settings.database_url, "SELECT count(*) FROM outbox") == 1


def test_a_pooled_connection_the_server_closed_is_replaced_at_checkout(rt: Runtime) -> None:
    with rt.engine.connect() as connection:
        pid = connection.scalar(text("SELECT pg_backend_pid()"))
    assert sql_value(rt.settings.database_url, "SELECT pg_terminate_backend(:pid)", pid=pid) is True
    time.sleep(0.2)
    assert apply_once(rt, answer, ACTOR, new_id(), wire()) is True  # no error, no retry needed
    with rt.engine.connect() as connection:
        assert connection.scalar(text("SELECT pg_backend_pid()")) != pid


def test_a_retry_asked_for_within_milliseconds_is_made_in_the_thread(rt: Runtime) -> None:
    """notify's status change that overtook its predecessor: retried here, not via the delay queue."""
    from dramatiq import Retry

    message_id, calls = new_id(), []

    def waits_once(envelope: Any, uow: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            uow.track(Notice.about(envelope)).record("DecisionFailed", {"code": "X", "message": "m", "round": 1})
            raise Retry("the predecessor is being applied", delay=10)
        answer(envelope, uow)

    assert apply_once(rt, waits_once, ACTOR, message_id, wire()) is True
    assert len(calls) == 2
    # The first attempt's writes were rolled back: one claim, one outbox row.
    assert sql_value(rt.settings.database_url, "SELECT count(*) FROM processed_messages") == 1
    assert sql_value(rt.settings.database_url, "SELECT count(*) FROM outbox") == 1


def test_a_retry_asked_for_later_goes_to_dramatiq(rt: Runtime) -> None:
    from dramatiq import Retry

    def later(_envelope: Any, _uow: Any) -> None:
        raise Retry("not now", delay=5_000)

    with pytest.raises(Retry):
        apply_once(rt, later, ACTOR, new_id(), wire())
    assert sql_value(rt.settings.database_url, "SELECT count(*) FROM processed_messages") == 0

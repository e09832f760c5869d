"""A status change whose predecessor is late waits for it, however late, and the log stays whole.

A real Dramatiq worker (stub broker, so the test decides when the predecessor is delivered) on
notify's real PostgreSQL database.
"""

from __future__ import annotations

from collections.abc import Iterator

import dramatiq
import pytest
from sqlalchemy import func, select

from common.kernel.clock import isoformat, utcnow
from common.messaging.broker import build_broker
from common.messaging.consumers import register_actors
from common.messaging.outbox import new_id
from common.service.runtime import Runtime
from notify_app.adapters.orm import Notification
from notify_app.service import definition
from tests.conftest import make_settings
from tests.support.databases import truncate_all
from tests.support.polling import eventually

pytestmark = [pytest.mark.postgres]

#: More retries than the 100 after which the change used to be dead-lettered (~30 s).
LATE = 101


@pytest.fixture
def notify(pg_urls: dict[str, str]) -> Iterator[tuple[Runtime, dramatiq.Broker]]:
    truncate_all("notify", pg_urls["notify"])
    rt = Runtime(definition(), make_settings("notify", pg_urls["notify"]))
    broker = build_broker(rt.settings)
    register_actors(rt, broker)
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()
    try:
        yield rt, broker
    finally:
        worker.stop()
        rt.dispose()


def status_changed(broker: dramatiq.Broker, application_id: str, seq: int, status: str, previous: str) -> None:
    wire = {"event_id": new_id(), "type": "ApplicationStatusChanged", "application_id": application_id,
            "correlation_id": application_id, "occurred_at": isoformat(utcnow()),
            "data": {"seq": seq, "status": status, "previous_status": previous, "cause": "test",
                     "at": isoformat(utcnow()), "reasons": [], "offer": None, "requested_information": []}}
    broker.enqueue(dramatiq.Message(queue_name="notify", actor_name="notify.application_status_changed",
                                    args=(wire,), kwargs={}, options={}))


def waiting(rt: Runtime, application_id: str) -> tuple[int, int]:
    """How many times the change has been retried, and its dead letters."""
    tables = rt.definition.tables
    with rt.session_factory() as session:
        attempts = session.scalar(select(func.count()).select_from(tables.attempts)
                                  .where(tables.attempts.application_id == application_id))
        dead = session.scalar(select(func.count()).select_from(tables.dead_letters)
                              .where(tables.dead_letters.application_id == application_id))
    return int(attempts or 0), int(dead or 0)


def logged(rt: Runtime, application_id: str) -> list[int]:
    with rt.session_factory() as session:
        return list(session.scalars(select(Notification.seq).where(Notification.application_id == application_id)
                                    .order_by(Notification.seq)))


def test_a_change_whose_predecessor_is_late_waits_for_it(notify: tuple[Runtime, dramatiq.Broker]) -> None:
    rt, broker = notify
    application_id = new_id()
    status_changed(broker, application_id, 2, "EVALUATING", "SUBMITTED")  # its predecessor is late
    retries, dead = eventually(lambda: waiting(rt, application_id), lambda w: w[0] >= LATE or w[1] > 0,
                               timeout=180, interval=1)
    assert dead == 0, f"the change was dead-lettered after {retries} attempts"
    assert retries >= LATE
    assert logged(rt, application_id) == []
    status_changed(broker, application_id, 1, "SUBMITTED", None)  # the predecessor, at last
    assert eventually(lambda: logged(rt, application_id), lambda seqs: seqs == [1, 2], timeout=60) == [1, 2]

"""The live hub on real PostgreSQL: fan-out, late commits, the connection cap, slow clients."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from common.kernel.clock import utcnow
from common.messaging.envelope import Envelope
from common.messaging.outbox import new_id
from common.service.runtime import Runtime
from notify_app.adapters.orm import Notification, Recipient
from notify_app.live.hub import Caps, Hub, Refusal, as_json, event_of
from notify_app.live.streams import application_events, ended, recipient_of, staff_events


@pytest.fixture
def rt(runtime_of: Callable[..., Runtime]) -> Runtime:
    return runtime_of("notify")


def log(rt: Runtime, application_id: str, seq: int, row_id: int | None = None, status: str = "EVALUATING") -> None:
    with rt.session_factory() as session, session.begin():
        session.add(Notification(id=row_id, event_id=f"e-{application_id}-{seq}", application_id=application_id,
                                 seq=seq, status=status, previous_status="SUBMITTED", payload={},
                                 at=utcnow()))
        recipient = session.get(Recipient, application_id) or Recipient(application_id=application_id, summary={},
                                                                         language="en", updated_at=utcnow())
        recipient.last_seq, recipient.status = seq, status
        session.add(recipient)


def drain(subscriber, timeout: float = 3.0) -> list[dict]:  # type: ignore[no-untyped-def]
    events, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        while not subscriber.events.empty():
            events.append(subscriber.events.get_nowait())
        time.sleep(0.05)
    return events


def test_rows_reach_matching_subscribers_once(rt: Runtime) -> None:
    log(rt, "old", 1)  # history, not news
    hub = Hub(rt.session_factory, poll=0.05)
    mine, staff = hub.subscribe("app-a", "sse"), hub.subscribe(None, "sse")
    assert mine and staff
    log(rt, "app-a", 1)
    log(rt, "app-b", 1)
    assert [e["application_id"] for e in drain(mine)] == ["app-a"]
    assert sorted(e["application_id"] for e in drain(staff, 0.2)) == ["app-a", "app-b"]
    hub.stop()


def test_a_row_committed_late_with_a_lower_id_is_still_forwarded(rt: Runtime) -> None:
    hub = Hub(rt.session_factory, poll=0.05)
    staff = hub.subscribe(None, "sse")
    log(rt, "app-a", 1, row_id=1000)
    assert len(drain(staff, 0.5)) == 1
    log(rt, "app-b", 1, row_id=990)  # an id taken earlier by a transaction that committed later
    assert [e["id"] for e in drain(staff, 0.5)] == [990]
    hub.stop()


def test_connection_cap_and_slow_clients(rt: Runtime) -> None:
    hub = Hub(rt.session_factory, poll=0.05, caps=Caps(per_process=2))
    slow = hub.subscribe(None, "sse")
    assert hub.subscribe(None, "websocket") is not None
    assert hub.subscribe(None, "sse") is Refusal.FULL  # over the cap
    for seq in range(1, 300):
        log(rt, "busy", seq)
    time.sleep(1.0)
    assert slow is not None and slow.lagging  # its bounded queue overflowed: it will be closed
    hub.unsubscribe(slow)
    assert hub.subscribe(None, "sse") is not None
    hub.stop()


def test_caps_per_token_and_per_address_within_the_process_cap(rt: Runtime) -> None:
    hub = Hub(rt.session_factory, poll=0.05, caps=Caps(per_process=10, per_token=2, per_address=3))
    first = [hub.subscribe("app-a", "sse", token="app-a", address="10.0.0.1") for _ in range(2)]
    assert hub.subscribe("app-a", "websocket", token="app-a", address="10.0.0.2") is Refusal.TOKEN
    assert not isinstance(hub.subscribe(None, "sse", address="10.0.0.1"), Refusal)  # staff: no token cap
    assert hub.subscribe("app-b", "sse", token="app-b", address="10.0.0.1") is Refusal.ADDRESS
    assert not isinstance(hub.subscribe("app-b", "sse", token="app-b", address="10.0.0.2"), Refusal)
    for subscriber in first:
        assert not isinstance(subscriber, Refusal)
        hub.unsubscribe(subscriber)
        hub.unsubscribe(subscriber)  # every exit path may call it: counted once
    assert not isinstance(hub.subscribe("app-a", "sse", token="app-a", address="10.0.0.1"), Refusal)
    assert hub.connections == 3
    hub.stop()


def test_closing_ends_waiting_streams_at_once_and_refuses_new_ones(rt: Runtime) -> None:
    """What a SIGTERM does (common.web.lifecycle): streams end now, not at their next heartbeat."""
    import threading

    hub = Hub(rt.session_factory, poll=0.05)
    mine, staff = hub.subscribe("app-a", "sse"), hub.subscribe(None, "websocket")
    assert mine and staff
    finished: dict[str, float] = {}

    def follow(name: str, events: Iterator[object]) -> None:
        for _ in events:
            pass
        finished[name] = time.monotonic()

    threads = [threading.Thread(target=follow, args=("mine", application_events(rt.session_factory, mine, 0, 60))),
               threading.Thread(target=follow, args=("staff", staff_events(rt.session_factory, staff, 0, 60)))]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # both are waiting for an event, with a 60 s heartbeat
    closed_at = time.monotonic()
    hub.close_all()
    for thread in threads:
        thread.join(5)
    assert set(finished) == {"mine", "staff"} and max(finished.values()) - closed_at < 2
    assert mine.closed and not mine.lagging
    assert hub.subscribe(None, "sse") is Refusal.CLOSING  # a shutting-down process takes no new stream
    hub.stop()


def test_an_application_stream_ends_after_the_final_status(rt: Runtime) -> None:
    hub = Hub(rt.session_factory, poll=0.05)
    log(rt, "app-a", 1, status="SUBMITTED")
    subscriber = hub.subscribe("app-a", "sse")
    assert subscriber is not None
    stream = application_events(rt.session_factory, subscriber, 0, heartbeat=0.2, end_at_final=True)
    assert next(stream)["seq"] == 1
    assert next(stream) is None  # idle: a heartbeat, the stream is open
    assert not ended(recipient_of(rt.session_factory, "app-a"), 1)
    log(rt, "app-a", 2)
    log(rt, "app-a", 3, status="APPROVED")
    rest = [event for event in stream if event is not None]  # ends by itself
    assert [event["status"] for event in rest] == ["EVALUATING", "APPROVED"]
    assert ended(recipient_of(rt.session_factory, "app-a"), 3)
    assert not ended(recipient_of(rt.session_factory, "app-a"), 2)  # the final event is still to be sent
    assert recipient_of(rt.session_factory, "unknown") is None and not ended(None, 0)
    hub.unsubscribe(subscriber)
    hub.stop()


def envelope(name: str, data: dict, application_id: str) -> Envelope:  # type: ignore[type-arg]
    return Envelope(message_id=new_id(), event_id=new_id(), type=name, application_id=application_id,
                    correlation_id=application_id, occurred_at=utcnow().isoformat(), data=data)


def apply_change(rt: Runtime, application_id: str, seq: int, status: str = "EVALUATING") -> None:
    """Log a change as notify's worker does: through its handler, in its unit of work."""
    from notify_app.handlers import on_status_changed

    data = {"seq": seq, "status": status, "previous_status": None, "cause": "test", "at": utcnow().isoformat(),
            "reasons": [], "offer": None, "requested_information": [], "summary": {"city": "Lyon"}}
    with rt.uow() as uow:
        on_status_changed(envelope("ApplicationStatusChanged", data, application_id), uow, settings=rt.settings)
        uow.commit()


def test_a_logged_change_wakes_the_hub_without_waiting_for_its_scan(rt: Runtime) -> None:
    """The worker's commit announces the row (pg_notify): delivered long before the 60 s scan."""
    hub = Hub(rt.session_factory, poll=60)
    staff = hub.subscribe(None, "sse")
    assert not isinstance(staff, Refusal)
    time.sleep(0.3)  # the tailer is listening
    apply_change(rt, "app-a", 1, "SUBMITTED")
    apply_change(rt, "app-a", 2)
    assert [(e["application_id"], e["seq"]) for e in drain(staff, 1.0)] == [("app-a", 1), ("app-a", 2)]
    hub.stop()


def test_the_worker_logs_changes_once_and_in_order_whatever_their_arrival(rt: Runtime) -> None:
    """The conditional update of the recipient, its fallback that creates the row, and the upsert
    of the contact details, on PostgreSQL."""
    from notify_app.handlers import PredecessorMissing, on_submitted

    apply_change(rt, "app-a", 1, "SUBMITTED")  # before ApplicationSubmitted: creates the row
    apply_change(rt, "app-a", 1, "SUBMITTED")  # a duplicate: nothing more
    with pytest.raises(PredecessorMissing):
        apply_change(rt, "app-a", 3, "DECIDING")
    contact = {"full_name": "Alice Propre", "email": "alice@example.org", "language": "fr"}
    with rt.uow() as uow:
        on_submitted(envelope("ApplicationSubmitted", {"summary": {"city": "Paris"}, "contact": contact}, "app-a"), uow)
        uow.commit()
    apply_change(rt, "app-a", 2)
    apply_change(rt, "app-a", 3, "DECIDING")
    with rt.session_factory() as session:
        recipient = session.get(Recipient, "app-a")
        seqs = list(session.scalars(select(Notification.seq).where(Notification.application_id == "app-a")
                                    .order_by(Notification.id)))
    assert seqs == [1, 2, 3]
    assert recipient is not None
    assert (recipient.full_name, recipient.language, recipient.last_seq, recipient.status, recipient.summary) == (
        "Alice Propre", "fr", 3, "DECIDING", {"city": "Lyon"})


def test_a_referral_event_carries_when_the_officers_answer_is_due() -> None:
    """The applicant's page says by when the officers answer, from the live event itself."""
    due = {"due_at": "2027-03-16T09:30:00+00:00"}
    row = SimpleNamespace(id=9, event_id="e-9", application_id="app-r", seq=4, status="REFERRED",
                          previous_status="DECIDING", at=utcnow(), payload={"review": due, "reasons": []})
    assert event_of(row)["review"] == due
    assert json.loads(as_json(event_of(row), "status"))["review"] == due
    assert event_of(SimpleNamespace(**{**vars(row), "status": "APPROVED", "payload": {}}))["review"] is None

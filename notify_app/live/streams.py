"""The event sequences live channels send: history from the log, then live rows from the hub.

Shared by the SSE and WebSocket endpoints so both say exactly the same thing. An applicant's
stream is ordered by ``seq`` (notify_app logs an application's changes in order), so resuming
after ``seq`` N replays exactly what was missed; a gap seen live (a change logged later than
its successor) is filled from the log before going on.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from notify_app.adapters.orm import Notification, Recipient
from notify_app.domain.lifecycle import FINAL_STATUSES
from notify_app.live.hub import WAKE, Subscriber, event_of

#: Seconds between heartbeats on an idle stream (keeps proxies from closing it).
HEARTBEAT = 15.0
#: Seconds between checks, on an idle stream, that its client is still there: a client that left
#: releases its slot within this, not at the heartbeat that would fail to reach it.
PROBE = 1.0
#: A ``None`` in a stream means "send a heartbeat now".
Heartbeat = None


def history(session_factory: sessionmaker, application_id: str, after_seq: int) -> list[dict[str, Any]]:
    """The logged changes of one application after ``after_seq``, in order."""
    with session_factory() as session:
        rows = session.scalars(select(Notification).where(Notification.application_id == application_id,
                                                          Notification.seq > after_seq)
                               .order_by(Notification.seq)).all()
    return [event_of(row) for row in rows]


def _live(subscriber: Subscriber, heartbeat: float) -> Iterator[dict[str, Any] | None]:
    """The subscriber's events as the hub hands them over, a heartbeat after ``heartbeat`` idle
    seconds; ends when the subscriber does (too slow, closed at shutdown) or its client left."""
    idle = 0.0
    while not subscriber.ended:
        try:
            event = subscriber.events.get(timeout=min(PROBE, heartbeat))
        except queue.Empty:
            if subscriber.client_gone():
                return
            idle += min(PROBE, heartbeat)
            if idle >= heartbeat:
                idle = 0.0
                yield Heartbeat
            continue
        idle = 0.0
        if event is not WAKE:  # WAKE only wakes the wait: ``ended`` is now true
            yield event


def application_events(session_factory: sessionmaker, subscriber: Subscriber, after_seq: int,
                       heartbeat: float = HEARTBEAT, end_at_final: bool = False) -> Iterator[dict[str, Any] | None]:
    """History after ``after_seq``, then every new change, in ``seq`` order; ``None`` = heartbeat.

    With ``end_at_final`` the sequence ends after a final status: nothing can follow it.
    """
    sent = after_seq
    application_id = subscriber.application_id or ""
    for event in history(session_factory, application_id, sent):
        sent = event["seq"]
        yield event
        if end_at_final and event["status"] in FINAL_STATUSES:
            return
    for event in _live(subscriber, heartbeat):
        if event is Heartbeat:
            yield Heartbeat
            continue
        if event["seq"] <= sent:
            continue
        fresh = history(session_factory, application_id, sent) if event["seq"] > sent + 1 else [event]
        for change in fresh:  # a gap seen live is filled from the log
            sent = change["seq"]
            yield change
            if end_at_final and change["status"] in FINAL_STATUSES:
                return


def recipient_of(session_factory: sessionmaker, application_id: str) -> Recipient | None:
    """notify's row of the application, or None if notify has not heard of it (yet)."""
    with session_factory() as session:
        return session.get(Recipient, application_id)


def ended(recipient: Recipient | None, after_seq: int) -> bool:
    """True if the application has a final status and nothing after ``after_seq`` is left to send."""
    return recipient is not None and recipient.status in FINAL_STATUSES and recipient.last_seq <= after_seq


def staff_snapshot(session_factory: sessionmaker, limit: int = 200) -> list[dict[str, Any]]:
    """The latest state of the most recently changed applications, for a staff client connecting."""
    with session_factory() as session:
        recipients = session.scalars(select(Recipient).where(Recipient.status.is_not(None))
                                     .order_by(Recipient.updated_at.desc()).limit(limit)).all()
    return [{"snapshot": True, "application_id": r.application_id, "status": r.status, "seq": r.last_seq,
             "at": r.updated_at.isoformat(), "summary": r.summary, "reasons": r.reasons or []}
            for r in recipients]


def staff_events(session_factory: sessionmaker, subscriber: Subscriber, after_id: int,
                 heartbeat: float = HEARTBEAT) -> Iterator[dict[str, Any] | None]:
    """Every change of every application logged after ``after_id``, then live ones."""
    if after_id:
        with session_factory() as session:
            rows = session.scalars(select(Notification).where(Notification.id > after_id)
                                   .order_by(Notification.id).limit(5000)).all()
        for row in rows:
            yield event_of(row)
    for event in _live(subscriber, heartbeat):
        if event is not Heartbeat and after_id and event["id"] <= after_id:
            continue
        yield event

"""The per-process hub that turns the durable notification log into live pushes.

Every web process runs one tailer thread that reads new rows of ``notifications`` and hands them
to the connections of that process. It is woken by the transaction that logs a row, which
announces the row's id when it commits (:mod:`notify_app.live.wakeup`: PostgreSQL ``LISTEN``, or
in memory in one process), and reads exactly those rows. The log is the single source of truth,
so this works the same for one process or many (several gunicorn workers, several notify
instances: each tails the shared database), needs no broker to deliver, and a reconnecting client
resumes from the log itself (``Last-Event-ID``).

Every ``poll`` seconds (and when the listening connection is new) the tailer also scans the ids
of a window behind the highest id it has seen and reads the rows it has not forwarded: rows whose
announcement it missed (a dropped connection), which, as ids can commit out of order across
concurrent transactions, may be below ids already forwarded. The scan reads ids only.

Subscribers get a bounded queue. A client too slow to keep up is marked ``lagging`` and its
stream is ended, never buffered without limit and never allowed to slow the others: it
reconnects and catches up from the log.

When the process shuts down, :meth:`Hub.close_all` ends every stream at once (and refuses new
ones): the clients reconnect, to another process or instance, and resume from the log.

Each stream holds a server thread, so the hub caps them three ways (:class:`Caps`): per process
(threads stay free for the HTTP API), per token (one applicant's token cannot take every slot),
and per client address (nor can one machine with many applications). A stream counts from
:meth:`Hub.subscribe` to :meth:`Hub.unsubscribe`, which every exit of every endpoint must reach.
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Gauge
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from notify_app.adapters.orm import Notification
from notify_app.live.wakeup import ListenWakeup, LocalWakeup

log = logging.getLogger(__name__)

LIVE_CONNECTIONS = Gauge("loanflow_live_connections", "Open WebSocket and SSE connections.", ["channel"],
                         multiprocess_mode="livesum")
_LOG = Notification.__table__
#: Ids re-read behind the highest seen, to catch rows whose transaction committed late.
LOOKBACK = 500
#: Put in a subscriber's queue to wake its stream when the process closes it (compared by identity).
WAKE: dict[str, Any] = {}


class LiveEvent(dict[str, Any]):
    """An event as pushed to clients, serialised once however many connections send it (the
    serialisation was a fifth of the CPU of one delivery to one connection)."""

    __slots__ = ("_json",)

    def as_json(self) -> str:
        try:
            return self._json
        except AttributeError:
            self._json: str = json.dumps(self)
            return self._json


def as_json(event: dict[str, Any], kind: str | None = None) -> str:
    """``event`` as JSON (``{"type": kind, …}`` when ``kind`` is given), a :class:`LiveEvent`'s
    from its cache."""
    if not isinstance(event, LiveEvent):
        return json.dumps({"type": kind, **event} if kind else event)
    encoded = event.as_json()
    return f'{{"type": {json.dumps(kind)}, {encoded[1:]}' if kind and len(encoded) > 2 else encoded


def event_of(row: Any) -> LiveEvent:
    """The JSON pushed to clients for one logged status change (a ``Notification`` or its Core row)."""
    payload = row.payload or {}
    return LiveEvent({
        "id": row.id,
        "event_id": row.event_id,
        "application_id": row.application_id,
        "seq": row.seq,
        "status": row.status,
        "previous_status": row.previous_status,
        "at": row.at.isoformat(),
        "cause": payload.get("cause"),
        "reasons": payload.get("reasons") or [],
        "offer": payload.get("offer"),
        "requested_information": payload.get("requested_information") or [],
        "deadline": payload.get("deadline"),
        "summary": payload.get("summary") or {},
        # REFERRED only ({"due_at"}): the applicant's page says when to expect the officers' answer.
        "review": payload.get("review"),
    })


class Refusal(enum.Enum):
    """Why :meth:`Hub.subscribe` turned a stream down; the value is the client's message."""

    CLOSING = "This server is shutting down"
    FULL = "Too many live connections on this server"
    TOKEN = "Too many live connections with this token"  # noqa: S105 - a message, not a secret
    ADDRESS = "Too many live connections from this address"


@dataclass(frozen=True)
class Caps:
    """The most streams one process holds: in all, per token, per client address."""

    per_process: int = 200
    per_token: int = 8
    per_address: int = 16


@dataclass(eq=False)
class Subscriber:
    """One live connection: the application it follows (``None``: staff, all), its queue, and the
    keys (token, client address) it counts against."""

    application_id: str | None
    channel: str
    keys: tuple[str, ...] = ()
    #: True once the client is known to have left (its endpoint sets a probe of its socket).
    client_gone: Callable[[], bool] = field(default=lambda: False)
    events: queue.Queue[dict[str, Any]] = field(default_factory=lambda: queue.Queue(maxsize=256))
    lagging: bool = False
    closed: bool = False

    @property
    def ended(self) -> bool:
        """Its stream must stop: the client is too slow, or this process is shutting down."""
        return self.lagging or self.closed

    def close(self) -> None:
        """End the stream now (safe from a signal handler: sets a flag, wakes the waiting thread)."""
        self.closed = True
        # A full queue: the stream is busy draining it and sees ``closed`` before waiting again.
        with contextlib.suppress(queue.Full):
            self.events.put_nowait(WAKE)

    def offer(self, event: dict[str, Any]) -> None:
        if self.application_id not in (None, event["application_id"]):
            return
        try:
            self.events.put_nowait(event)
        except queue.Full:
            self.lagging = True


class Hub:
    """Tails the log and fans rows out to this process's subscribers."""

    def __init__(self, session_factory: sessionmaker, *, poll: float = 2.0, caps: Caps = Caps()) -> None:
        self.session_factory = session_factory
        #: Seconds between scans of the log's tail (the fallback for a missed announcement).
        self.poll = poll
        self.caps = caps
        self._subscribers: set[Subscriber] = set()
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._high = 0
        self._recent: deque[int] = deque(maxlen=LOOKBACK * 10)
        self._recent_set: set[int] = set()
        self.closing = False

    @property
    def max_connections(self) -> int:
        return self.caps.per_process

    def subscribe(self, application_id: str | None, channel: str, *, token: str | None = None,
                  address: str | None = None) -> Subscriber | Refusal:
        """A new subscriber, or why not: shutting down, or a cap reached (``token=None``: exempt
        from the per-token cap, as the staff token every officer shares)."""
        keys = tuple(key for key in (token and f"token:{token}", address and f"address:{address}") if key)
        with self._lock:
            refusal = self._refusal(keys)
            if refusal is not None:
                return refusal
            subscriber = Subscriber(application_id, channel, keys)
            self._subscribers.add(subscriber)
            self._held.update(keys)
            LIVE_CONNECTIONS.labels(channel).inc()
        self._ensure_tailer()
        return subscriber

    def _refusal(self, keys: tuple[str, ...]) -> Refusal | None:
        if self.closing:
            return Refusal.CLOSING
        if len(self._subscribers) >= self.caps.per_process:
            return Refusal.FULL
        for key in keys:
            kind, cap = (Refusal.TOKEN, self.caps.per_token) if key.startswith("token:") else \
                (Refusal.ADDRESS, self.caps.per_address)
            if self._held[key] >= cap:
                return kind
        return None

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Release the subscriber's slot; safe to call more than once (every exit path calls it)."""
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.discard(subscriber)
                self._held.subtract(subscriber.keys)
                self._held += Counter()  # drop the keys that reached zero
                LIVE_CONNECTIONS.labels(subscriber.channel).dec()

    @property
    def connections(self) -> int:
        return len(self._subscribers)

    def _ensure_tailer(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            with self.session_factory() as session:
                self._high = int(session.scalar(select(func.max(Notification.id))) or 0)
                # Rows already in the log when the tailer starts are history, not news.
                for row_id in session.scalars(select(Notification.id).where(Notification.id > self._high - LOOKBACK)):
                    self._remember(row_id)
            self._thread = threading.Thread(target=self._tail, name="notify-live-tailer", daemon=True)
            self._thread.start()

    def _wakeup_of(self) -> ListenWakeup | LocalWakeup:
        bind = self.session_factory.kw["bind"]
        if bind.dialect.name == "postgresql":
            return ListenWakeup(bind.url.render_as_string(hide_password=False))
        return LocalWakeup()

    def _tail(self) -> None:
        wakeup = self._wakeup_of()
        next_scan = time.monotonic() + self.poll
        while not self._stop.is_set():
            try:
                ids = wakeup.wait(max(0.0, next_scan - time.monotonic()))
                if ids is None or time.monotonic() >= next_scan:
                    next_scan = time.monotonic() + self.poll
                    ids = self._scan() + (ids or [])
                self._forward(self._read(ids))
            except Exception:
                log.exception("live tailer round failed; retrying")
                self._stop.wait(self.poll)
        wakeup.close()

    def _scan(self) -> list[int]:
        """Ids in the window behind the highest seen that were not forwarded yet (Core: an ORM
        session costs ~5 ms of CPU for the 500 ids, a connection ~1 ms)."""
        with self.session_factory.kw["bind"].connect() as connection:
            ids = connection.execute(select(_LOG.c.id).where(_LOG.c.id > max(0, self._high - LOOKBACK))).scalars()
            return [row_id for row_id in ids if row_id not in self._recent_set]

    def _read(self, ids: list[int]) -> list[Any]:
        """The rows of ``ids`` not forwarded yet, in id order (Core rows: :func:`event_of` reads
        the same attributes as on a ``Notification``)."""
        fresh = sorted({row_id for row_id in ids if row_id not in self._recent_set})
        if not fresh:
            return []
        with self.session_factory.kw["bind"].connect() as connection:
            return list(connection.execute(select(_LOG).where(_LOG.c.id.in_(fresh)).order_by(_LOG.c.id)))

    def _forward(self, rows: list[Any]) -> None:
        fresh = [row for row in rows if row.id not in self._recent_set]
        if not fresh:
            return
        for row in fresh:
            self._remember(row.id)
            self._high = max(self._high, row.id)
        with self._lock:
            subscribers = list(self._subscribers)
        for row in fresh:
            event = event_of(row)
            for subscriber in subscribers:
                subscriber.offer(event)

    def _remember(self, row_id: int) -> None:
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append(row_id)
        self._recent_set.add(row_id)

    def close_all(self) -> None:
        """End every live stream of this process and refuse new ones (shutdown)."""
        self.closing = True
        for subscriber in list(self._subscribers):
            subscriber.close()

    def stop(self) -> None:
        """Stop the tailer (within ``poll`` seconds: it closes its listening connection itself)."""
        self._stop.set()

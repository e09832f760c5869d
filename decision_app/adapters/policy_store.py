"""The policy in force, read from ``policy_versions`` and kept for a couple of seconds.

Why a cache: the worker decides hundreds of applications a second and the policy changes a few
times a year, so reading it per decision would add a query to every message for nothing. Each
process keeps the policy it read for :data:`REFRESH_SECONDS` and then reads it again (one small
query, by one thread; the others of the process wait the few milliseconds it takes):
a version an admin publishes is applied by every worker within that time, without a restart.
The process that published it forgets its copy at once (:meth:`PolicyStore.forget`), so the
admin's next ``GET /decision/policy`` shows it.

Why not LISTEN/NOTIFY: it would need a connection held open per worker process for an event
that comes a few times a year, and a missed notification (a reconnect) would leave a worker on
the old policy for good; a re-read every two seconds cannot miss.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from decision_app.adapters.orm import PolicyVersionRecord
from decision_app.domain.policy import PolicyConfig
from decision_app.domain.thresholds import config_from

#: How long a process applies the policy it read before reading it again.
REFRESH_SECONDS = 2.0


def active_record(session: Session) -> PolicyVersionRecord | None:
    """The version published last, or None while none was (the built-in policy is in force)."""
    return session.scalars(select(PolicyVersionRecord).where(PolicyVersionRecord.published_at.is_not(None))
                           .order_by(PolicyVersionRecord.published_at.desc(), PolicyVersionRecord.version.desc())
                           .limit(1)).first()


def in_force(session: Session, builtin: PolicyConfig) -> PolicyConfig:
    """The policy in force: the version published last, read over ``builtin``; else ``builtin``."""
    record = active_record(session)
    return builtin if record is None else config_from(record.version, record.thresholds, builtin)


class PolicyStore:
    """The policy in force for one process, read at most once per ``refresh_seconds``.

    ``builtin``: the policy of this release (or the one a test gives), in force while no version
    was published.
    """

    def __init__(self, session_factory: sessionmaker, builtin: PolicyConfig,
                 refresh_seconds: float = REFRESH_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.builtin = builtin
        self.refresh_seconds = refresh_seconds
        self._session_factory = session_factory
        self._clock = clock
        self._lock = threading.Lock()
        self._policy: PolicyConfig | None = None
        self._read_at = 0.0

    def current(self, session: Session | None = None) -> PolicyConfig:
        """The policy to apply now (read again when the copy is older than ``refresh_seconds``).

        ``session``: the caller's open session (a handler's unit of work) to read it in. Why: on
        SQLite (the embedded mode) a transaction holds the database's write lock from its first
        statement, and a second connection of the same thread would wait for it until "database
        is locked". Without one, a session of its own (the web side).

        A failed read raises: the message that needed the policy is retried, as for any
        database error in its transaction (the copy is not served stale past its time).
        """
        policy = self._policy
        if policy is not None and self._clock() - self._read_at < self.refresh_seconds:
            return policy
        with self._lock:  # one thread reads; the others wait for its answer, a few ms
            if self._policy is not None and self._clock() - self._read_at < self.refresh_seconds:
                return self._policy
            if session is not None:
                fresh = in_force(session, self.builtin)
            else:
                with self._session_factory() as own:
                    fresh = in_force(own, self.builtin)
            self._policy, self._read_at = fresh, self._clock()
            return fresh

    def forget(self) -> None:
        """Read the policy again at the next :meth:`current` (this process just published one)."""
        with self._lock:
            self._policy = None

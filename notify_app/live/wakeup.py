"""What wakes the live hub: the ids of log rows as their transactions commit.

On PostgreSQL the transaction that logs a status change announces the row's id on
:data:`~notify_app.adapters.repository.LOG_CHANNEL` (delivered on commit only), and each web
process ``LISTEN``s on one connection of its own (:class:`ListenWakeup`). In one process (the
embedded mode, SQLite) the unit of work hands the ids over in memory (:class:`LocalWakeup`).

``wait`` returns the ids announced (a short burst is gathered into one batch), or ``None`` when
it timed out or cannot tell: the hub then scans the tail of the log, which is also how it finds
rows whose announcement it missed (a dropped connection, a row written by something else).
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg
from sqlalchemy.engine import make_url

from notify_app.adapters.repository import LOG_CHANNEL, LOGGED, LogSignal

log = logging.getLogger(__name__)

#: Seconds, after the first announcement, during which more are gathered into the same batch.
GATHER = 0.03


class LocalWakeup:
    """The ids this process's units of work logged, as they commit."""

    def __init__(self, signal: LogSignal = LOGGED) -> None:
        self._signal = signal
        self._ids: list[int] = []
        self._lock = threading.Lock()
        self._event = threading.Event()
        signal.listen(self._logged)

    def _logged(self, ids: list[int]) -> None:
        with self._lock:
            self._ids.extend(ids)
        self._event.set()

    def wait(self, timeout: float) -> list[int] | None:
        if not self._event.wait(timeout):
            return None
        self._event.wait(GATHER)
        with self._lock:
            self._event.clear()
            ids, self._ids = self._ids, []
        return ids

    def close(self) -> None:
        self._signal.forget(self._logged)


class ListenWakeup:
    """``LISTEN`` on the service's PostgreSQL database, on a connection outside the pool."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._connection: psycopg.Connection | None = None

    def _connect(self) -> tuple[psycopg.Connection, bool]:
        """The connection, and whether it is new (announcements before it were missed)."""
        if self._connection is not None and not self._connection.closed:
            return self._connection, False
        self._connection = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
        self._connection.execute(f"LISTEN {LOG_CHANNEL}")
        return self._connection, True

    def wait(self, timeout: float) -> list[int] | None:
        try:
            connection, new = self._connect()
            if new:
                return None  # scan: what was announced while nobody listened
            ids = [int(n.payload) for n in connection.notifies(timeout=timeout, stop_after=1) if n.payload.isdigit()]
            if not ids:
                return None
            # Sleep, then take what came: a short timeout in ``notifies`` costs ~0.5 ms of CPU.
            time.sleep(GATHER)
            return ids + [int(n.payload) for n in connection.notifies(timeout=0) if n.payload.isdigit()]
        except psycopg.Error:
            log.warning("live LISTEN connection lost; scanning the log until it is back")
            self.close()
            threading.Event().wait(min(timeout, 1.0))
            return None

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

"""Waking the outbox relay the moment a transaction with outbox rows commits.

On PostgreSQL the unit of work sends ``NOTIFY loanflow_outbox`` inside the transaction (delivered
only if it commits), and a relay in another process ``LISTEN``s on a connection of its own: it
publishes within milliseconds instead of at its next poll, and the poll stays as the fallback
(a notification is lost if the relay's connection drops). In one process (the embedded mode),
an in-memory event plays the same role.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "loanflow_outbox"


class Wakeup:
    """A flag the unit of work raises after commit and the in-process relay waits on."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        fired = self._event.wait(timeout)
        self._event.clear()
        return fired


class PostgresWakeup:
    """``LISTEN`` on the service's database; ``wait`` returns early on a ``NOTIFY``."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._connection: psycopg.Connection | None = None

    def _connect(self) -> psycopg.Connection:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
            self._connection.execute(f"LISTEN {CHANNEL}")
        return self._connection

    def wait(self, timeout: float) -> bool:
        try:
            for _ in self._connect().notifies(timeout=timeout, stop_after=1):
                return True
            return False
        except psycopg.Error:
            log.warning("outbox LISTEN connection lost; polling until it is back")
            self._connection = None
            threading.Event().wait(timeout)
            return False

    def close(self) -> None:
        """Close the ``LISTEN`` connection (the relay is stopping)."""
        connection, self._connection = self._connection, None
        if connection is not None and not connection.closed:
            connection.close()

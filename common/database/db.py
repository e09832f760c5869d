"""Engines and sessions for a service's own database (PostgreSQL, or SQLite when embedded).

Two details matter for correctness, not speed:

- On PostgreSQL, a process survives a database restart without being restarted itself: a
  pooled connection the server closed is replaced at checkout instead of failing a request
  (:func:`_drop_if_closed_by_server`, which costs no round trip, unlike ``pool_pre_ping``).
- On SQLite, every transaction starts with ``BEGIN IMMEDIATE``. pysqlite's default deferred
  transactions let two threads read the same row and then race to write it; taking the write
  lock up front serialises writers, which is what ``SELECT … FOR UPDATE`` does on PostgreSQL.

And one for privacy: every engine has ``hide_parameters=True``. SQLAlchemy otherwise renders a
failed statement's parameters (an applicant's name, e-mail, birth date) into the error text,
which ends in logs, ``task_attempts`` and ``dead_letters`` (see ``common.kernel.privacy``).
"""

from __future__ import annotations

import select
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool


def is_sqlite(url: str) -> bool:
    """True for SQLite URLs (the embedded default)."""
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, pool_size: int = 8, max_overflow: int = 4) -> Engine:
    """Build the engine of one service database with the settings each backend needs.

    ``pool_size`` connections (``Settings.db_pool_size``: ``LOANFLOW_DB_POOL_SIZE``, 8) are kept
    once opened, as many as the threads of the busiest process (loan_web's gthread workers,
    credit_worker): a pool smaller than the concurrency *closes* every overflow connection on
    return, so each request beyond it paid a new PostgreSQL backend (a process fork and
    authentication) — the benchmark showed ``POST /loan/applications`` at 190–198 req/s with a
    pool of 3, 239–325 with 8 (docs/benchmarks.md). ``max_overflow`` (``LOANFLOW_DB_MAX_OVERFLOW``,
    4) covers bursts (background threads, notify's many stream threads). Connections open lazily:
    an idle process holds one or two, not eight.
    """
    if is_sqlite(url):
        return _sqlite_engine(url)
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5},
        hide_parameters=True,
    )
    event.listen(engine, "checkout", partial(_drop_if_closed_by_server, engine.dialect))
    return engine


def _drop_if_closed_by_server(dialect: Any, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool ``checkout`` hook: hand out no connection that PostgreSQL closed while it sat idle.

    Why not ``pool_pre_ping``: it sends ``SELECT 1`` (a round trip and a transaction) on every
    checkout, i.e. on every message and request. A server that restarts or terminates a backend
    closes its socket (after a FATAL message), so a dead idle connection has something to read,
    and a healthy one has nothing: one ``poll()`` without waiting tells them apart. Only when
    there is something to read is the connection pinged for real (it may be a harmless message),
    and one that fails the ping is replaced (``DisconnectionError`` makes the pool open another).
    A connection that dies *while* in use fails its statement as before: SQLAlchemy sees the
    disconnect, invalidates the pool's older connections, and the message is retried.
    """
    try:
        fileno = dbapi_connection.fileno()
    except Exception as error:  # psycopg raises on a connection it knows is closed
        raise DisconnectionError(str(error)) from error
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    if not poller.poll(0):
        return
    try:
        dialect.do_ping(dbapi_connection)
    except Exception as error:
        raise DisconnectionError(str(error)) from error


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # NullPool: a fresh connection per checkout is cheap for SQLite and avoids sharing one
    # connection between threads; the file and WAL journal hold the state.
    engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 30, "check_same_thread": False},
                           hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, emit BEGIN, so we can make it IMMEDIATE below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker:
    """Sessions that keep loaded objects usable after commit (views serialise them afterwards)."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)

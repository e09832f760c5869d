"""What one application costs the broker and the databases, counted in the services' own tables.

- Messages: every outbox row is one message published (and consumed) once. Rows of all five
  databases divided by the applications.
- Write transactions (commits that reach the WAL), three exact parts and a check:
  * HTTP writes: one per application (the ``POST`` transaction); the ``GET``s write nothing;
  * consumer transactions: one per ``processed_messages`` row (the id is recorded in the same
    transaction as the effect);
  * relay batches: the relay marks the rows it published in the transaction that locked them,
    so the distinct ``xmin`` (writing transaction id) of the sent outbox rows counts its batches;
  * check: the distinct ``xmin`` over every row of every table, which also sees the other
    writers (e-mail sent marks, periodic jobs). Rows updated again keep only their last writer's
    ``xmin``, so this is a lower bound, and ``other = check - the three parts`` (if positive).
- All transactions: ``pg_stat_database.xact_commit`` of the five databases over the run, read-only
  ones included (relay and live-tailer polls, readiness probes, GETs): context only, since a
  read-only commit writes no WAL.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from psycopg import sql


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def current_xid(urls: dict[str, str]) -> int:
    """A transaction id taken now: rows written later have a larger ``xmin`` (32-bit, no wraparound here)."""
    with psycopg.connect(_dsn(next(iter(urls.values())))) as connection:
        return int(connection.execute("SELECT txid_current()").fetchone()[0]) % 2**32  # type: ignore[index]


def xact_commits(urls: dict[str, str]) -> dict[str, int]:
    found = {}
    for service, url in urls.items():
        with psycopg.connect(_dsn(url)) as connection:
            found[service] = int(connection.execute(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").fetchone()[0])  # type: ignore[index]
    return found


def pending(urls: dict[str, str]) -> int:
    """Messages not yet applied: unsent outbox rows, plus sent rows without their processed id.

    Every outbox row is one message to one consumer, which records it in ``processed_messages``
    when it applies it: all consumed when the two totals meet (a message dead-lettered for good
    never meets it, hence the timeout of :func:`quiesce`).
    """
    outbox = unsent = processed = 0
    for url in urls.values():
        with psycopg.connect(_dsn(url)) as connection:
            row = connection.execute("SELECT count(*), count(*) FILTER (WHERE sent_at IS NULL), "
                                     "(SELECT count(*) FROM processed_messages) FROM outbox").fetchone()
            outbox, unsent, processed = outbox + row[0], unsent + row[1], processed + row[2]  # type: ignore[index]
    return unsent + max(0, outbox - processed)


def quiesce(urls: dict[str, str], timeout: float = 60.0, settle: float = 0.5) -> tuple[float, int]:
    """Wait until nothing is left to publish or consume (twice in a row).

    Returns the seconds waited and what was still pending then (0 unless the timeout passed).
    """
    started = time.monotonic()
    quiet = 0
    left = pending(urls)
    while time.monotonic() - started < timeout:
        left = pending(urls)
        quiet = quiet + 1 if left == 0 else 0
        if quiet >= 2:
            break
        time.sleep(settle)
    return round(time.monotonic() - started, 1), left


def _tables(connection: psycopg.Connection) -> list[str]:
    return [r[0] for r in connection.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]


def per_application(urls: dict[str, str], since_xid: int, commits_before: dict[str, int]) -> dict[str, Any]:
    """Messages and commits per application (see the module docstring)."""
    with psycopg.connect(_dsn(urls["loan"])) as connection:
        applications = int(connection.execute("SELECT count(*) FROM applications").fetchone()[0])  # type: ignore[index]
    per_service: dict[str, dict[str, int]] = {}
    for service, url in urls.items():
        with psycopg.connect(_dsn(url)) as connection:
            def one(query: Any, *args: Any, _c: psycopg.Connection = connection) -> int:
                return int(_c.execute(query, args).fetchone()[0])  # type: ignore[index]

            select_xmin = sql.SQL("SELECT xmin::text::bigint AS x FROM {}")
            union = sql.SQL(" UNION ALL ").join(select_xmin.format(sql.Identifier(t)) for t in _tables(connection))
            per_service[service] = {
                "outbox_rows": one("SELECT count(*) FROM outbox"),
                "processed": one("SELECT count(*) FROM processed_messages"),
                "relay_batches": one("SELECT count(DISTINCT xmin::text) FROM outbox "
                                     "WHERE sent_at IS NOT NULL AND xmin::text::bigint >= %s", since_xid),
                "writers_seen": one(sql.SQL("SELECT count(DISTINCT x) FROM ({}) AS w WHERE x >= %s").format(union),
                                    since_xid),
            }
    commits_after = xact_commits(urls)
    total = {key: sum(s[key] for s in per_service.values()) for key in next(iter(per_service.values()))}
    apps = max(1, applications)
    parts = applications + total["processed"] + total["relay_batches"]
    other = max(0, total["writers_seen"] - parts)
    return {
        "applications": applications,
        "per_service": per_service,
        "messages_per_app": round(total["outbox_rows"] / apps, 3),
        "processed_per_app": round(total["processed"] / apps, 3),
        "relay_batches_per_app": round(total["relay_batches"] / apps, 3),
        "http_writes_per_app": 1.0,
        "other_writes_per_app": round(other / apps, 3),
        "commits_per_app": round((parts + other) / apps, 3),
        "distinct_writers_per_app": round(total["writers_seen"] / apps, 3),
        "all_xact_commits_per_app": round(sum(commits_after[s] - commits_before.get(s, 0) for s in urls) / apps, 3),
    }

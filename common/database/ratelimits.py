"""Request counts per client and window, kept in the service's own database.

Why the database: the count must hold across gunicorn workers, processes and instances, and the
one store every mode has is the service's database (PostgreSQL, or SQLite in ``make run``: no
Redis anywhere). One row per (scope, subject) holds a **fixed window** that opens with the
subject's first request: ``hits`` requests until ``ends_at``. One statement per request
(:func:`take`) counts and decides at once, an upsert whose update only applies while the window
has room or has ended:

- a request within the limit increments ``hits`` (or opens a new window) and gets its row back;
- a request over the limit matches the row but updates nothing, so gets no row back: refused,
  and **nothing is written** (a flood of refused requests does not extend or grow anything).

Concurrent requests of one subject queue on its row (``ON CONFLICT`` locks it), so n processes
admit exactly ``amount`` per window between them. A fixed window lets a client make up to twice
the amount around a window's end (the end of one, the start of the next); a sliding log would
not, at the cost of one row per request (docs/report.md). Rows of ended windows are deleted by
the periodic purge (:func:`common.database.retention.purge_expired`).

The subject is a keyed hash of the client's address (HMAC with the service's secret key): the
table holds no address a reader of the database could use, and counting needs none.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, String, bindparam, case, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from common.kernel.clock import UTCDateTime
from common.kernel.rates import RateLimit


class RateLimitWindowMixin:
    """One subject's current window in one scope (see the module docstring)."""

    __tablename__ = "rate_limit_windows"

    #: What is limited (``submit``: ``POST /loan/applications``).
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: Who: :func:`subject_of` the client's address.
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def subject_of(address: str, key: str) -> str:
    """The keyed hash of a client's address that its rows are stored under."""
    return hmac.new(key.encode(), address.encode(), hashlib.sha256).hexdigest()[:32]


@lru_cache(maxsize=16)
def _statement(backend: str, model: type) -> Any:
    """The counting upsert for ``model`` on ``backend``, built once; values go as parameters."""
    table = model.__table__  # type: ignore[attr-defined]
    insert = (postgresql_insert if backend == "postgresql" else sqlite_insert)(table)
    now = bindparam("now", type_=UTCDateTime)
    ended = table.c.ends_at <= now
    return insert.on_conflict_do_update(
        index_elements=[table.c.scope, table.c.subject],
        set_={"hits": case((ended, 1), else_=table.c.hits + 1),
              "ends_at": case((ended, insert.excluded.ends_at), else_=table.c.ends_at)},
        where=or_(ended, table.c.hits < bindparam("amount", type_=Integer)),
    ).returning(table.c.hits)


def take(session: Session, model: type, scope: str, subject: str, limit: RateLimit, now: datetime) -> int | None:
    """Count one request of ``subject`` in ``scope`` against ``limit``, at ``now``.

    Returns:
      ``None`` when the request is within the limit (it was counted), else the whole seconds
      until the subject's window ends (at least 1): the request was refused and nothing written.
    """
    table = model.__table__  # type: ignore[attr-defined]
    statement = _statement(session.get_bind().dialect.name, model)
    counted = session.execute(statement, {
        "scope": scope, "subject": subject, "hits": 1, "ends_at": now + timedelta(seconds=limit.seconds),
        "now": now, "amount": limit.amount,
    }).first()
    if counted is not None:
        return None
    ends_at = session.scalar(select(table.c.ends_at).where(table.c.scope == scope, table.c.subject == subject))
    remaining = (ends_at - now).total_seconds() if ends_at is not None else limit.seconds
    # Clamped to the window: a concurrent request that took its ``now`` a few ms later may have
    # opened the window, leaving 60.01 s of a 60 s window to this one (a Retry-After of 61 seen).
    return min(max(1, math.ceil(remaining)), max(1, math.ceil(limit.seconds)))

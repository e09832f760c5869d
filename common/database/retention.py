"""Periodic clean-up of rows that have served their purpose, without breaking deduplication.

- Sent outbox rows older than ``outbox_retention_days``: the relay never looks at them again.
- Processed-message ids, task attempts and resolved dead letters older than
  ``processed_retention_days``, which Settings forces to exceed the outbox window: an id is
  forgotten only long after the last copy of its message could have been published.
- Rate-limit windows that have ended (:mod:`common.database.ratelimits`): a new request of the
  same client opens a new window anyway.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from common.kernel.clock import utcnow


def purge_expired(runtime: Any) -> int:
    """Delete expired rows of ``runtime``'s shared tables; returns how many went."""
    tables = runtime.definition.tables
    settings = runtime.settings
    now = utcnow()
    outbox_limit = now - timedelta(days=settings.outbox_retention_days)
    processed_limit = now - timedelta(days=settings.processed_retention_days)
    statements = [
        delete(tables.outbox).where(tables.outbox.sent_at.is_not(None), tables.outbox.sent_at < outbox_limit),
        delete(tables.processed).where(tables.processed.processed_at < processed_limit),
        delete(tables.attempts).where(tables.attempts.at < processed_limit),
        delete(tables.dead_letters).where(tables.dead_letters.resolved_at.is_not(None),
                                          tables.dead_letters.resolved_at < processed_limit),
        delete(tables.rate_limits).where(tables.rate_limits.ends_at < now),
    ]
    removed = 0
    with runtime.session_factory() as session, session.begin():
        for statement in statements:
            removed += session.execute(statement).rowcount or 0
    return removed

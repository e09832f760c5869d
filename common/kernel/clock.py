"""Time in one place: every timestamp loanflow stores or sends is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    """ISO 8601 with an explicit ``Z``-equivalent offset, as the API and events carry it."""
    return moment.astimezone(UTC).isoformat()


class UTCDateTime(TypeDecorator):
    """A DateTime column that always gives back aware UTC datetimes.

    Why: SQLite has no time zones and returns naive values, PostgreSQL returns aware ones; the
    domain compares deadlines with ``utcnow()``, which fails on a naive/aware mix.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

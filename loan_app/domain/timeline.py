"""An application's timeline: the transitions it went through, and how long each wait may last.

Value objects of the :class:`~loan_app.domain.model.Application` aggregate, kept apart from it so
that the aggregate's module holds the saga and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from loan_app.domain.review import ReviewTerms


@dataclass
class Transition:
    """One line of an application's history: when, from what, to what, and why."""

    seq: int
    from_status: str | None
    to_status: str
    at: datetime
    cause: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Deadlines:
    """How long each wait may last before the application ends (configurable in Settings)."""

    step: timedelta
    information: timedelta
    #: A referral's review: due in working hours; overdue ones are escalated, never decided.
    review: ReviewTerms = field(default_factory=ReviewTerms)

"""The tables every service database has, beside its own: outbox, processed ids, task attempts,
dead letters, the operator audit trail, the rate limiter's windows and the tombstones of erased
personal data. :func:`define_common_tables` maps them on a service's declarative base, so a
service declares them in one line and they migrate with its schema.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import DeclarativeBase

from common.database.ratelimits import RateLimitWindowMixin
from common.messaging.deadletters import DeadLetterMixin, OperatorActionMixin
from common.messaging.erasure import ErasureMixin
from common.messaging.outbox import OutboxMixin, ProcessedMessageMixin
from common.messaging.tasks import TaskAttemptMixin


@dataclass(frozen=True)
class CommonTables:
    """The mapped classes of the shared tables in one service database."""

    outbox: type
    processed: type
    attempts: type
    dead_letters: type
    audit: type
    #: Request counts of :mod:`common.web.ratelimit` (a table in every service, so the limiter
    #: can be put on any service's view).
    rate_limits: type
    erasures: type


def define_common_tables(base: type[DeclarativeBase]) -> CommonTables:
    """Map the shared tables on ``base`` (once per service)."""
    prefix = base.__module__.split(".")[0].removesuffix("_app").title()

    def mapped(mixin: type, name: str) -> type:
        return type(f"{prefix}{name}", (mixin, base), {"__module__": base.__module__})

    return CommonTables(
        outbox=mapped(OutboxMixin, "OutboxMessage"),
        processed=mapped(ProcessedMessageMixin, "ProcessedMessage"),
        attempts=mapped(TaskAttemptMixin, "TaskAttempt"),
        dead_letters=mapped(DeadLetterMixin, "DeadLetter"),
        audit=mapped(OperatorActionMixin, "OperatorAction"),
        rate_limits=mapped(RateLimitWindowMixin, "RateLimitWindow"),
        erasures=mapped(ErasureMixin, "PersonalDataErasure"),
    )

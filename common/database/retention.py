"""Periodic clean-up of rows that have served their purpose, without breaking deduplication.

- Sent outbox rows older than ``outbox_retention_days``: the relay never looks at them again.
- Processed-message ids, task attempts and resolved dead letters older than
  ``processed_retention_days``, which Settings forces to exceed the outbox window: an id is
  forgotten only long after the last copy of its message could have been published.
- Rate-limit windows that have ended (:mod:`common.database.ratelimits`): a new request of the
  same client opens a new window anyway.

And personal data (:func:`anonymise_ended`): applications that ended more than
``personal_data_retention_days`` ago are anonymised, not deleted, so that statistics and the
audit keep their status, amounts, decision, reasons and times.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete

from common.kernel.clock import utcnow
from common.messaging.erasure import RETENTION, ErasureRequest, erase_application

log = logging.getLogger(__name__)

#: Applications anonymised per round of :func:`anonymise_ended` (one transaction each).
ANONYMISE_BATCH = 200


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


def anonymise_ended(runtime: Any, now: datetime | None = None) -> int:
    """Anonymise the applications this service knows ended more than the retention period ago.

    A service that can tell from its own rows (loan_app: the application's terminal status;
    notify_app: the last status it logged) lists them (``PersonalData.ended_before``) and erases
    each in a transaction of its own, as an erasure request would; loan_app's erasure also
    publishes ``PersonalDataErasureRequested`` for the services that cannot tell. ``now`` moves
    the clock (tests). Returns how many applications were anonymised.
    """
    days = runtime.settings.personal_data_retention_days
    personal = runtime.bindings.personal_data
    if not days or personal.ended_before is None:
        return 0
    now = now or utcnow()
    with runtime.session_factory() as session:
        ended = personal.ended_before(session, now - timedelta(days=days), ANONYMISE_BATCH)
    request = ErasureRequest(RETENTION, now)
    for application_id in ended:
        with runtime.uow() as uow:
            erase_application(uow, runtime.definition.tables, application_id, request, personal)
            uow.commit()
    if ended:
        log.info("personal data of ended applications anonymised", extra={"count": len(ended)})
    return len(ended)

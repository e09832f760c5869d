"""Bulk actions on dead letters by query: replay or discard every parked letter a filter selects.

After an outage (the bureau down for an hour, SMTP credentials expired) hundreds of letters wait
for the same fix; replaying them one request at a time is slow and error-prone. A batch selects
the **parked** letters matching a filter (an empty filter selects them all), the oldest first and
at most ``Settings.batch_limit`` of them, and settles each through
:func:`common.operations.commands.settle_dead_letter`, the path of the single-letter action:
a replay goes through the outbox with the original message id, and the row lock and status check
there keep a letter that another operator settles meanwhile from being acted on twice.

Each letter is settled in its own transaction, so that one letter that fails (its ``on_replay``
preparation raising, say) undoes nothing else: it is logged, left parked and counted in
``skipped``, never in ``done``. Each letter's audit row carries the batch's id (``{"batch": id}``),
and the batch writes one row of its own (``batch_replay`` / ``batch_discard``, target: the batch
id) with the filter and the counts. A dry run acts on nothing and writes only that row, with
``dry_run`` true: who looked at what is part of the trail too.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, func, select

from common.messaging.deadletters import PARKED
from common.messaging.outbox import new_id
from common.operations.commands import Conflict, NotFound, audit, settle_dead_letter
from common.service.runtime import Runtime

log = logging.getLogger(__name__)

#: What a batch may do to each letter (the single-letter actions of the same names).
ACTIONS = ("replay", "discard")


@dataclass(frozen=True)
class BatchOutcome:
    """What a batch found and did; the answer of ``POST /<svc>/dead-letters/batch``."""

    #: The batch's id: the target of its audit row, and ``detail.batch`` of each letter's.
    batch: str
    #: Parked letters the filter selects now (all of them, beyond the limit too).
    matched: int
    #: Letters replayed or discarded by this call (0 on a dry run).
    done: int
    #: Matching letters beyond the limit, left for another call.
    remaining: int
    #: Letters selected but not acted on: settled meanwhile by someone else, or failed (logged).
    skipped: int
    dry_run: bool


def run_batch(rt: Runtime, action: str, filters: dict[str, Any], *, dry_run: bool, operator: str) -> BatchOutcome:
    """Replay or discard (``action``) the parked letters ``filters`` selects, the oldest
    ``rt.settings.batch_limit`` of them; on a dry run only count them. Audited either way."""
    if action not in ACTIONS:
        raise ValueError(f"unknown batch action {action!r}")
    batch = new_id()
    matched, selected = _select(rt, filters, rt.settings.batch_limit)
    done = 0 if dry_run else sum(_settle(rt, letter_id, action, operator, batch) for letter_id in selected)
    outcome = BatchOutcome(batch=batch, matched=matched, done=done, remaining=matched - len(selected),
                           skipped=0 if dry_run else len(selected) - done, dry_run=dry_run)
    counts = {key: value for key, value in asdict(outcome).items() if key != "batch"}
    with rt.uow() as uow:
        audit(rt, uow.session, operator, f"batch_{action}", batch, filter=filters, **counts)
        uow.commit()
    return outcome


def matching(rt: Runtime, filters: dict[str, Any]) -> Select[Any]:
    """The ids of the parked letters ``filters`` selects: ``actor`` (exact), ``error_contains``
    (case-insensitive substring), ``since`` (inclusive) and ``until`` (exclusive) on the time it
    was parked, ``application_id``. Absent keys select everything."""
    model = rt.definition.tables.dead_letters
    query = select(model.id).where(model.status == PARKED)
    if filters.get("actor") is not None:
        query = query.where(model.actor == filters["actor"])
    if filters.get("error_contains") is not None:
        query = query.where(model.error.icontains(filters["error_contains"], autoescape=True))
    if filters.get("since") is not None:
        query = query.where(model.parked_at >= filters["since"])
    if filters.get("until") is not None:
        query = query.where(model.parked_at < filters["until"])
    if filters.get("application_id") is not None:
        query = query.where(model.application_id == str(filters["application_id"]))
    return query


def _select(rt: Runtime, filters: dict[str, Any], limit: int) -> tuple[int, list[str]]:
    """How many letters match, and the ids of the oldest ``limit`` of them (the ones waiting longest)."""
    model = rt.definition.tables.dead_letters
    query = matching(rt, filters)
    with rt.session_factory() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        ids = session.scalars(query.order_by(model.parked_at, model.id).limit(limit)).all()
    return int(total or 0), list(ids)


def _settle(rt: Runtime, letter_id: str, action: str, operator: str, batch: str) -> bool:
    """Settle one letter in its own transaction; False when it was not (it stays as it was)."""
    try:
        settle_dead_letter(rt, letter_id, action, operator, batch=batch)
    except (NotFound, Conflict):
        return False  # settled (or erased) meanwhile by someone else: nothing to do
    except Exception:  # one letter's failure must not stop the others; the log names it
        log.exception("batch %s: %s of dead letter %s failed", batch, action, letter_id)
        return False
    return True

"""What the operations endpoints read: dead letters, the audit trail, parked outbox rows.

Each query takes the service's :class:`Runtime` and opens one session; the rows it returns are
detached (``expire_on_commit`` is off), ready for the view's schema. Task history has its own
module (:mod:`common.operations.task_history`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select

from common.service.runtime import Runtime

#: Parked outbox rows shown at most (the oldest first: they block nothing, but wait longest).
MAX_PARKED_ROWS = 500


def dead_letters(rt: Runtime, filters: dict[str, Any], offset: int, limit: int) -> tuple[Sequence[Any], int]:
    """A page of dead letters, newest first, filtered by ``status`` and ``application_id``; and the total."""
    model = rt.definition.tables.dead_letters
    query = select(model)
    if "status" in filters:
        query = query.where(model.status == filters["status"])
    if "application_id" in filters:
        query = query.where(model.application_id == str(filters["application_id"]))
    return _page(rt, query, model.parked_at.desc(), offset=offset, limit=limit)


def dead_letter(rt: Runtime, letter_id: str) -> Any | None:
    """One dead letter, or ``None``."""
    with rt.session_factory() as session:
        return session.get(rt.definition.tables.dead_letters, letter_id)


def operator_actions(rt: Runtime, offset: int, limit: int) -> tuple[Sequence[Any], int]:
    """A page of the audit trail of operator actions, newest first; and the total."""
    model = rt.definition.tables.audit
    return _page(rt, select(model), model.id.desc(), offset=offset, limit=limit)


def parked_rows(rt: Runtime) -> Sequence[Any]:
    """Outbox rows the relay parked and nobody has sent since, oldest first."""
    model = rt.definition.tables.outbox
    with rt.session_factory() as session:
        return session.scalars(select(model).where(model.parked_at.is_not(None), model.sent_at.is_(None))
                               .order_by(model.created_at).limit(MAX_PARKED_ROWS)).all()


def _page(rt: Runtime, query: Select[Any], order: Any, *, offset: int, limit: int) -> tuple[Sequence[Any], int]:
    with rt.session_factory() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        return session.scalars(query.order_by(order).offset(offset).limit(limit)).all(), int(total or 0)

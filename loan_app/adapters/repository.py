"""Loading and saving applications, and turning the messages they record into outbox rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.messaging.uow import UnitOfWork
from loan_app.domain.model import Application


def get(session: Session, application_id: str, *, for_update: bool = False) -> Application | None:
    """One application; ``for_update`` locks its row so concurrent messages apply one at a time."""
    return session.get(Application, application_id, with_for_update=for_update or None)


def save(uow: UnitOfWork, application: Application) -> None:
    """Stage the application and the messages it recorded, in the open unit of work."""
    uow.session.add(application)
    for message in application.messages:
        uow.publish(
            message.name,
            message.payload,
            application_id=application.id,
            correlation_id=application.correlation_id,
        )
    application.messages = []


def page(session: Session, status: str | None, offset: int, limit: int) -> tuple[Sequence[Application], int]:
    """A page of applications, newest first, and the total matching the filter."""
    query = select(Application)
    count = select(func.count()).select_from(Application)
    if status:
        query = query.where(Application.status == status)  # type: ignore[arg-type]
        count = count.where(Application.status == status)  # type: ignore[arg-type]
    items = session.scalars(
        query.order_by(Application.created_at.desc(), Application.id).offset(offset).limit(limit)  # type: ignore[attr-defined]
    ).all()
    return items, int(session.scalar(count) or 0)


def overdue_ids(session: Session, now: datetime, limit: int = 100) -> list[str]:
    """Non-terminal applications whose current wait passed its deadline."""
    query = (
        select(Application.id)  # type: ignore[call-overload]
        .where(Application.deadline.is_not(None), Application.deadline <= now)  # type: ignore[attr-defined,operator]
        .order_by(Application.deadline)  # type: ignore[arg-type]
        .limit(limit)
    )
    return list(session.scalars(query))

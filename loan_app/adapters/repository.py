"""Loading and saving applications, and loan_app's unit of work that holds them.

The aggregate records its messages itself; the unit of work collects them when it commits
(:mod:`common.messaging.uow`), so saving an application is adding it to the unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.messaging.uow import Repository, UnitOfWork
from loan_app.domain.model import Application


class Applications(Repository):
    """The applications of one unit of work."""

    def get(self, application_id: str, *, for_update: bool = False) -> Application | None:
        """One application; ``for_update`` locks its row so concurrent messages apply one at a time."""
        return self.track(get(self.session, application_id, for_update=for_update))

    def overdue_ids(self, now: datetime, limit: int = 100) -> list[str]:
        """Non-terminal applications whose current wait passed its deadline."""
        return overdue_ids(self.session, now, limit)


class LoanUnitOfWork(UnitOfWork):
    """loan_app's unit of work: its applications, committed with the messages they record."""

    applications: Applications

    def open_repositories(self) -> None:
        self.applications = Applications(self)


def get(session: Session, application_id: str, *, for_update: bool = False) -> Application | None:
    """One application; ``for_update`` locks its row so concurrent messages apply one at a time."""
    return session.get(Application, application_id, with_for_update=for_update or None)


def save(uow: UnitOfWork, application: Application) -> None:
    """Stage the application in the open unit of work; its messages go out with the commit."""
    uow.session.add(application)
    uow.track(application)


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

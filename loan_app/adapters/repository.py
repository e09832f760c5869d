"""Loading and saving applications, and loan_app's unit of work that holds them.

The aggregate records its messages itself; the unit of work collects them when it commits
(:mod:`common.messaging.uow`). Rows are written with as little ORM work as the hot paths allow:

- a new application (``POST``) is inserted with one Core ``INSERT``, its first transitions with
  one more, never entering the session's unit of work;
- a saga step locks and loads the application row alone (``SELECT … FOR UPDATE``), not its
  history (the last transition's number is read by one small query if the step moves it on):
  the transitions it makes are appended with a Core ``INSERT``, and the ORM only writes the
  columns that changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, insert, select
from sqlalchemy.orm import Session

from common.database.upsert import insert_new
from common.messaging.uow import Repository, UnitOfWork
from loan_app.adapters.orm import TABLES, applications, erasure_confirmations, history
from loan_app.domain.model import Application, Transition
from loan_app.domain.status import TERMINAL

#: The columns of ``applications`` that an Application's attributes of the same name fill.
_COLUMNS = tuple(column.name for column in applications.columns)


class Applications(Repository):
    """The applications of one unit of work, and the transitions they made in it."""

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self._new: list[Application] = []
        #: Per application handed out (by ``id()``): how many transitions of its ``history`` list
        #: are stored (the list holds only those made since loading, unless loaded with history).
        self._stored: dict[int, tuple[Application, int]] = {}

    def get(self, application_id: str, *, for_update: bool = False, with_history: bool = False) -> Application | None:
        """One application; ``for_update`` locks its row so concurrent messages apply one at a time.

        ``with_history`` reads every transition (to show them); without it ``history`` holds only
        those made from now on, which is all a saga step needs (one query fewer per message).
        """
        application = get(self.session, application_id, for_update=for_update, with_history=with_history)
        if application is not None:
            self._stored[id(application)] = (application, len(application.history))
        return self.track(application)

    def add(self, application: Application) -> None:  # type: ignore[override]
        """A new application, inserted with what it recorded when the unit of work commits."""
        self._new.append(self.track(application))
        self._stored[id(application)] = (application, 0)

    def write(self) -> None:
        """Insert the new applications and every transition not stored yet (Core, no ORM flush)."""
        with self.session.no_autoflush:  # the commit flushes the ORM's changes once, after these
            self._insert()
        self._stored = {key: (application, len(application.history)) for key, (application, _) in self._stored.items()}

    def _insert(self) -> None:
        if self._new:
            self.session.execute(insert(applications), [{key: getattr(a, key) for key in _COLUMNS} for a in self._new])
            self._new = []
        rows = [
            {"application_id": application.id, "seq": t.seq, "from_status": t.from_status, "to_status": t.to_status,
             "at": t.at, "cause": t.cause, "detail": t.detail}
            for application, stored in self._stored.values() for t in application.history[stored:]
        ]
        if rows:
            self.session.execute(insert(history), rows)

    def overdue_ids(self, now: datetime, limit: int = 100) -> list[str]:
        """Non-terminal applications whose current wait passed its deadline."""
        return overdue_ids(self.session, now, limit)


class LoanUnitOfWork(UnitOfWork):
    """loan_app's unit of work: its applications, committed with the messages they record."""

    applications: Applications

    def open_repositories(self) -> None:
        self.applications = Applications(self)

    def commit(self) -> None:
        """Write the applications' new rows, then commit them with the outbox (one transaction)."""
        self.applications.write()
        super().commit()


def get(session: Session, application_id: str, *, for_update: bool = False,
        with_history: bool = False) -> Application | None:
    """One application (see :meth:`Applications.get`), read in the given session."""
    application = session.get(Application, application_id, with_for_update=for_update or None)
    if application is not None and with_history:
        application.history = transitions(session, application_id)
    return application


def transitions(session: Session, application_id: str) -> list[Transition]:
    """Every transition of an application, in order."""
    columns = [history.c.seq, history.c.from_status, history.c.to_status, history.c.at, history.c.cause,
               history.c.detail]
    rows = session.execute(select(*columns).where(history.c.application_id == application_id).order_by(history.c.seq))
    return [Transition(*row) for row in rows]


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


def ended_before(session: Session, limit: datetime, batch: int) -> list[str]:
    """Applications that reached their terminal status before ``limit`` and are not erased yet.

    ``updated_at`` is the time of the last transition, which for an ended application is the end.
    """
    tombstones = TABLES.erasures
    query = (
        select(applications.c.id)
        .where(applications.c.status.in_([str(status) for status in TERMINAL]), applications.c.updated_at < limit,
               ~exists().where(tombstones.application_id == applications.c.id))
        .order_by(applications.c.updated_at)
        .limit(batch)
    )
    return list(session.scalars(query))


def confirm_erasure(session: Session, application_id: str, service: str, erased_at: datetime) -> None:
    """Record that ``service`` erased the application (its first confirmation is kept)."""
    insert_new(session, erasure_confirmations, ("application_id", "service"),
               {"application_id": application_id, "service": service, "erased_at": erased_at})


def erasure(session: Session, application_id: str) -> tuple[Any, dict[str, datetime]] | None:
    """loan's tombstone of the application and ``{service: erased_at}`` of the confirmations, or None."""
    tombstone = session.get(TABLES.erasures, application_id)
    if tombstone is None:
        return None
    rows = session.execute(select(erasure_confirmations.c.service, erasure_confirmations.c.erased_at)
                           .where(erasure_confirmations.c.application_id == application_id))
    return tombstone, {service: erased_at for service, erased_at in rows}

"""An in-memory unit of work for unit tests of handlers: no database, no broker.

It offers handlers what the real one does (repositories, ``track``, ``commit``) and, like the real
one, collects at commit what the entities it holds recorded
(:func:`common.messaging.recorder.collect`), so a test asserts both the state a handler left and
the messages its commit would write to the outbox. A service's fake adds its repositories, each a
:class:`FakeRepository` with the queries of the real one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self, TypeVar

from common.kernel.clock import isoformat, utcnow
from common.messaging.envelope import Envelope
from common.messaging.outbox import new_id
from common.messaging.recorder import Outgoing, collect

T = TypeVar("T")


class FakeUnitOfWork:
    """The unit of work's behaviour, in memory; ``outbox`` holds what every commit collected.

    ``FakeUnitOfWork(inquiries=FakeInquiries)`` gives it the attribute ``inquiries``, a fake
    repository, as a service's unit of work opens its repositories.
    """

    def __init__(self, **repositories: type[FakeRepository]) -> None:
        self.session: Any = None  # no database: a handler reading through it gets nothing
        self.outbox: list[Outgoing] = []
        self.commits = 0
        #: Applications whose personal data is erased here (the tombstones :meth:`erased` reads).
        self.erased_ids: set[str] = set()
        self.repositories: list[FakeRepository] = []
        self._tracked: dict[int, object] = {}
        for name, repository in repositories.items():
            setattr(self, name, repository(self))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tracked = {}

    def track(self, entity: T) -> T:
        if entity is not None:
            self._tracked[id(entity)] = entity
        return entity

    def erased(self, application_id: str | None) -> bool:
        return application_id in self.erased_ids

    def commit(self) -> None:
        # The real one collects from its session's rows: here, every row of every repository.
        stored = [row for repository in self.repositories for row in repository.rows]
        self.outbox.extend(collect([*stored, *self._tracked.values()]))
        self.commits += 1

    def sent(self) -> list[str]:
        """The names of the messages committed, in order."""
        return [message.name for message in self.outbox]


class FakeRepository:
    """An in-memory table: ``add`` like the real repositories, ``find`` for their queries."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.rows: list[Any] = []
        self.track = uow.track
        uow.repositories.append(self)

    def add(self, row: Any) -> None:
        self.rows.append(self.track(row))

    def find(self, **key: object) -> Any:
        """The first row whose attributes equal ``key`` (tracked), or None."""
        found = [row for row in self.rows if all(getattr(row, name) == value for name, value in key.items())]
        return self.track(found[0] if found else None)


def envelope(name: str, data: dict[str, Any], application_id: str = "app-1", **ids: str) -> Envelope:
    """A message as a consumer receives it (the correlation id is the application id, as in loan_app)."""
    return Envelope(message_id=ids.get("message_id", new_id()), event_id=new_id(), type=name,
                    application_id=application_id, correlation_id=ids.get("correlation_id", application_id),
                    occurred_at=isoformat(utcnow()), data=data)


def applied(handler: Callable[..., Any], message: Envelope, uow: FakeUnitOfWork, *prepared: Any) -> FakeUnitOfWork:
    """Run ``handler`` on ``message`` and commit, as the consumer does; returns ``uow``."""
    handler(message, uow, *prepared)
    uow.commit()
    return uow

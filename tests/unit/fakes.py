"""An in-memory unit of work for unit tests of handlers: no database, no broker.

It offers handlers what the real one does (repositories, ``track``, ``commit``) and, like the real
one, collects at commit what the entities it handed out recorded
(:func:`common.messaging.recorder.collect`), so a test asserts both the state a handler left and
the messages its commit would write to the outbox. A service's fake adds its repositories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Self, TypeVar

from common.kernel.clock import isoformat, utcnow
from common.messaging.envelope import Envelope
from common.messaging.outbox import new_id
from common.messaging.recorder import Outgoing, collect

T = TypeVar("T")


class FakeUnitOfWork:
    """The unit of work's behaviour, in memory; ``outbox`` holds what every commit collected."""

    def __init__(self) -> None:
        self.outbox: list[Outgoing] = []
        self.commits = 0
        self._tracked: dict[int, object] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tracked = {}

    def track(self, entity: T) -> T:
        if entity is not None:
            self._tracked[id(entity)] = entity
        return entity

    def stored(self) -> Iterable[object]:
        """Every entity the fake repositories hold (the real one collects its session's rows)."""
        return ()

    def commit(self) -> None:
        self.outbox.extend(collect([*self.stored(), *self._tracked.values()]))
        self.commits += 1

    def sent(self) -> list[str]:
        """The names of the messages committed, in order."""
        return [message.name for message in self.outbox]


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

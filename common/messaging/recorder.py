"""Entities that record the messages their changes cause, for the unit of work to collect.

One way to publish, in every service: the object that changed records the catalogue message that
says so (``inquiry.record("CreditChecked", {...})``), and the unit of work
(:mod:`common.messaging.uow`) collects what the entities it handed out recorded when it commits,
writing the outbox rows in the same transaction as the change. Handlers never write the outbox.

Plain Python on purpose (no SQLAlchemy): loan_app's aggregate is a domain object that knows
nothing of its storage, and the services' ORM rows use the same mixin.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from common.messaging.envelope import Envelope

#: Recording order across every entity of a process: a unit of work stages what it collects in
#: the order it happened, whichever entity recorded it.
_ORDER = itertools.count()
#: The key of the recorded messages in an entity's ``__dict__`` (not a mapped column).
_PENDING = "_recorded_messages"


@dataclass(frozen=True)
class Outgoing:
    """A catalogue message recorded by an entity, not yet in the outbox."""

    name: str
    payload: dict[str, Any]
    application_id: str | None = None
    correlation_id: str | None = None
    order: int = field(default_factory=lambda: next(_ORDER), compare=False)


class RecordsMessages:
    """Mixin of an entity that records the messages its changes cause.

    The messages carry the entity's ``application_id`` and ``correlation_id`` (attributes or
    properties of the entity; an entity without a ``correlation_id`` passes one to
    :meth:`record`). No ``__init__``: the ORM does not call it for loaded rows, so the list is
    made on first use.
    """

    @property
    def messages(self) -> list[Outgoing]:
        """What this entity recorded and no unit of work has collected yet, oldest first."""
        return self.__dict__.setdefault(_PENDING, [])

    def record(self, name: str, payload: dict[str, Any], *, correlation_id: str | None = None) -> None:
        """Record catalogue message ``name``; it is sent if (and when) the unit of work commits."""
        correlation = correlation_id if correlation_id is not None else getattr(self, "correlation_id", None)
        self.messages.append(Outgoing(name, payload, getattr(self, "application_id", None), correlation))

    def collect_messages(self) -> list[Outgoing]:
        """Hand over the recorded messages (the entity forgets them)."""
        return self.__dict__.pop(_PENDING, [])


class Notice(RecordsMessages):
    """Messages about an application of which the unit of work changes no row.

    A step given up by a service that keeps nothing for it (property's valuation, decision's
    round) still answers the saga: the handler records the answer on a notice and hands it to
    the unit of work with ``uow.track(...)``. Never stored.
    """

    def __init__(self, application_id: str | None, correlation_id: str | None) -> None:
        self.application_id = application_id
        self.correlation_id = correlation_id

    @classmethod
    def about(cls, envelope: Envelope) -> Notice:
        """A notice about the application ``envelope`` is about."""
        return cls(envelope.application_id, envelope.correlation_id)


def collect(entities: Iterable[object]) -> list[Outgoing]:
    """Take the messages ``entities`` recorded (each entity once), in the order they were recorded."""
    seen: set[int] = set()
    messages: list[Outgoing] = []
    for entity in entities:
        if isinstance(entity, RecordsMessages) and id(entity) not in seen:
            seen.add(id(entity))
            messages.extend(entity.collect_messages())
    return sorted(messages, key=lambda message: message.order)

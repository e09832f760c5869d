"""The unit of work: one database transaction holding a state change and the messages it causes.

This is where the transactional outbox happens. A handler changes entities that it got from the
unit of work's repositories, and the entities record the messages their changes cause
(:mod:`common.messaging.recorder`). At commit the unit of work collects those messages and writes
them as outbox rows, so state and messages land in the same commit, or neither does. Nothing here
talks to the broker: the relay (``common.messaging.relay``) publishes committed rows afterwards.

A service's unit of work subclasses :class:`UnitOfWork` to open its repositories
(:class:`Repository`) on the session; tests give handlers an in-memory one instead.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from sqlalchemy import Table, bindparam, insert, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from common.kernel.clock import isoformat, utcnow
from common.messaging.contracts import spec_for, validate_payload
from common.messaging.erasure import is_erased
from common.messaging.outbox import new_id
from common.messaging.recorder import Outgoing, collect
from common.messaging.wakeup import CHANNEL as OUTBOX_CHANNEL

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Delivered to LISTENing relays only if (and when) the transaction commits.
_NOTIFY = text(f"NOTIFY {OUTBOX_CHANNEL}")


class UnitOfWork:
    """Context manager around one transaction of one service database.

    Parameters:
      session_factory: the service's ``sessionmaker``.
      outbox_model: the service's mapped ``OutboxMixin`` class.
      processed_model: the service's mapped ``ProcessedMessageMixin`` class.
      on_commit: called after a commit that wrote outbox rows (wakes the relay at once
        instead of waiting for its next poll).
      erasure_model: the service's mapped ``ErasureMixin`` class (the tombstones :meth:`erased`
        reads); without it nothing counts as erased.
    """

    def __init__(
        self,
        session_factory: sessionmaker,
        outbox_model: type,
        processed_model: type,
        on_commit: Callable[[], None] | None = None,
        erasure_model: type | None = None,
    ) -> None:
        self._session_factory = session_factory
        self.outbox_model = outbox_model
        self.processed_model = processed_model
        self._on_commit = on_commit
        self.erasure_model = erasure_model
        self.session: Session
        #: Outbox rows added in this transaction (the relay is woken after a commit that has some).
        self.staged_rows = 0
        self._tracked: dict[int, object] = {}
        self._outbox_rows: list[dict[str, Any]] = []

    def __enter__(self) -> Self:
        self.session = self._session_factory()
        self.staged_rows = 0
        self._tracked = {}
        self._outbox_rows = []
        self.open_repositories()
        return self

    def open_repositories(self) -> None:
        """Hook: a service's unit of work opens its repositories on ``self.session`` here."""

    def __exit__(self, *exc: object) -> None:
        # close() rolls back anything uncommitted and detaches objects without expiring them
        # (rollback() would expire them, and views serialise them after the unit of work ends).
        self.session.close()

    def track(self, entity: T) -> T:
        """Collect ``entity``'s recorded messages at commit (repositories track what they hand out).

        Rows the session holds are collected anyway; tracking keeps an entity alive until the
        commit (the session holds unmodified rows weakly) and covers a
        :class:`~common.messaging.recorder.Notice`, which is no row at all. Returns ``entity``
        (``None`` passes through).
        """
        if entity is not None:
            self._tracked[id(entity)] = entity
        return entity

    def _stage(self, message: Outgoing) -> None:
        """Queue ``message``'s outbox rows (one per consumer the catalogue names) for the commit."""
        spec = spec_for(message.name)
        validate_payload(spec, message.payload)
        event_id = new_id()
        created = utcnow()
        payload = {"occurred_at": isoformat(created), **message.payload}
        for consumer in spec.consumers:
            self._outbox_rows.append({
                "id": new_id(), "message_id": None, "event_id": event_id, "message_type": message.name,
                "queue": spec.queue(consumer), "actor": spec.actor_name(consumer),
                "application_id": message.application_id, "correlation_id": message.correlation_id,
                "payload": payload, "created_at": created, "attempts": 0,
            })
            self.staged_rows += 1

    def _entities(self) -> Iterator[object]:
        yield from self.session.new
        yield from self.session.identity_map.values()
        yield from self._tracked.values()

    def erased(self, application_id: str | None) -> bool:
        """True when this service erased the application's personal data (its tombstone exists).

        Asked by every code path that would write personal data, *before* it locks any row of
        the application: it takes the application's erasure lock in shared mode, so an erasure
        committing meanwhile is either waited for and seen, or waits for this transaction and
        erases what it wrote (``common.messaging.erasure``).
        """
        if self.erasure_model is None or not application_id:
            return False
        return is_erased(self.session, self.erasure_model, application_id)

    def claim(
        self, message_id: str, actor: str, application_id: str | None, correlation_id: str | None,
        *, duration_ms: int | None = None, latency_ms: int | None = None,
    ) -> bool:
        """Record ``message_id`` as applied by this transaction; False if it was applied before.

        One statement, the transaction's first: ``INSERT … ON CONFLICT DO NOTHING RETURNING``.
        No row back means a committed twin applied it (skip it); a twin still in flight makes
        this insert wait for its end, so two deliveries of one message never both run the handler.
        The row is undone with everything else if the transaction rolls back.
        """
        statements = _statements(self.processed_model.__table__, self.session.get_bind().dialect.name)
        row = self.session.execute(statements.claim, {
            "message_id": message_id, "actor": actor, "application_id": application_id,
            "correlation_id": correlation_id, "processed_at": utcnow(),
            "duration_ms": duration_ms, "latency_ms": latency_ms,
        }).first()
        return row is not None

    def record_timing(self, message_id: str, *, duration_ms: int | None, latency_ms: int | None) -> None:
        """Set the handler's duration and the message's latency on the row :meth:`claim` wrote."""
        statements = _statements(self.processed_model.__table__, self.session.get_bind().dialect.name)
        self.session.execute(statements.timing, {"key": message_id, "duration_ms": duration_ms,
                                                 "latency_ms": latency_ms})

    def commit(self) -> None:
        """Commit state, the messages its entities recorded, and the processed id together."""
        for message in collect(self._entities()):
            self._stage(message)
        if self._outbox_rows:
            # One Core INSERT (executemany): no ORM object, identity-map entry or flush per row.
            self.session.execute(_outbox_insert(self.outbox_model.__table__), self._outbox_rows)
            self._outbox_rows = []
        if self.staged_rows and self.session.get_bind().dialect.name == "postgresql":
            # Delivered to LISTENing relays only if (and when) this transaction commits.
            self.session.execute(_NOTIFY)
        self.session.commit()
        if self.staged_rows and self._on_commit is not None:
            self._on_commit()
        self.staged_rows = 0
        self._tracked = {}


@dataclass(frozen=True)
class _Statements:
    """The processed-message statements of one table on one dialect, built once per process."""

    claim: Any
    timing: Any


@functools.cache
def _outbox_insert(table: Table) -> Any:
    return insert(table)


@functools.cache
def _statements(table: Table, dialect: str) -> _Statements:
    insert_for = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return _Statements(
        claim=insert_for(table).on_conflict_do_nothing(index_elements=["message_id"]).returning(table.c.message_id),
        timing=update(table).where(table.c.message_id == bindparam("key"))
        .values(duration_ms=bindparam("duration_ms"), latency_ms=bindparam("latency_ms")),
    )


class Repository:
    """Base of a service's repositories: reads and adds through the unit of work's session, and
    tracks what it hands out, so that what those entities record is collected at commit."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.session = uow.session
        self.track = uow.track

    def add(self, entity: object) -> None:
        """A new row, written with what it recorded when the unit of work commits."""
        self.session.add(self.track(entity))

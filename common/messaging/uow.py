"""The unit of work: one database transaction holding a state change and the messages it causes.

This is where the transactional outbox happens. A handler changes state through ``uow.session``
and calls ``uow.publish(...)``; both land in the same commit, or neither does. Nothing here talks
to the broker: the relay (``common.messaging.relay``) publishes committed rows afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from common.kernel.clock import isoformat, utcnow
from common.messaging.contracts import spec_for, validate_payload
from common.messaging.outbox import new_id
from common.messaging.wakeup import CHANNEL as OUTBOX_CHANNEL

log = logging.getLogger(__name__)


class DuplicateMessage(Exception):
    """The message was already applied (found at start, or a twin committed first)."""


class UnitOfWork:
    """Context manager around one transaction of one service database.

    Parameters:
      session_factory: the service's ``sessionmaker``.
      outbox_model: the service's mapped ``OutboxMixin`` class.
      processed_model: the service's mapped ``ProcessedMessageMixin`` class.
      on_commit: called after a commit that wrote outbox rows (wakes the relay at once
        instead of waiting for its next poll).
    """

    def __init__(
        self,
        session_factory: sessionmaker,
        outbox_model: type,
        processed_model: type,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self.outbox_model = outbox_model
        self.processed_model = processed_model
        self._on_commit = on_commit
        self.session: Session
        self.staged_rows = 0

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.staged_rows = 0
        return self

    def __exit__(self, *exc: object) -> None:
        # close() rolls back anything uncommitted and detaches objects without expiring them
        # (rollback() would expire them, and views serialise them after the unit of work ends).
        self.session.close()

    def publish(
        self,
        message_type: str,
        payload: dict[str, Any],
        *,
        application_id: str | None,
        correlation_id: str | None,
    ) -> str:
        """Stage ``message_type`` for every consumer the catalogue names; returns the event id."""
        spec = spec_for(message_type)
        validate_payload(spec, payload)
        event_id = new_id()
        created = utcnow()
        for consumer in spec.consumers:
            self.session.add(
                self.outbox_model(
                    id=new_id(),
                    event_id=event_id,
                    message_type=message_type,
                    queue=spec.queue(consumer),
                    actor=spec.actor_name(consumer),
                    application_id=application_id,
                    correlation_id=correlation_id,
                    payload={"occurred_at": isoformat(created), **payload},
                    created_at=created,
                )
            )
            self.staged_rows += 1
        return event_id

    def already_processed(self, message_id: str) -> bool:
        """True when this consumer has applied ``message_id`` before."""
        found = self.session.scalar(
            select(self.processed_model.message_id).where(self.processed_model.message_id == message_id)
        )
        return found is not None

    def mark_processed(
        self, message_id: str, actor: str, application_id: str | None, correlation_id: str | None,
        *, duration_ms: int | None = None, latency_ms: int | None = None,
    ) -> None:
        """Record ``message_id`` as applied, in the same transaction as its effect."""
        self.session.add(
            self.processed_model(
                message_id=message_id,
                actor=actor,
                application_id=application_id,
                correlation_id=correlation_id,
                processed_at=utcnow(),
                duration_ms=duration_ms,
                latency_ms=latency_ms,
            )
        )

    def commit(self) -> None:
        """Commit state, outbox rows and processed ids together.

        Raises:
          DuplicateMessage: a concurrent delivery of the same message committed first (the
            primary key of ``processed_messages`` refused ours); nothing of ours was written.
        """
        if self.staged_rows and self.session.get_bind().dialect.name == "postgresql":
            # Delivered to LISTENing relays only if (and when) this transaction commits.
            self.session.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
        try:
            self.session.commit()
        except IntegrityError as error:
            self.session.rollback()
            if self.processed_model.__tablename__ in str(error.orig):
                raise DuplicateMessage(str(error.orig)) from None
            raise
        if self.staged_rows and self._on_commit is not None:
            self._on_commit()
        self.staged_rows = 0

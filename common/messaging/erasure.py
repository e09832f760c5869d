"""Erasing an application's personal data from one service's database, and remembering it did.

Every service erases what it holds about an application by itself, in one transaction of its
own database (:func:`erase_application`):

1. it takes the application's erasure lock (:func:`lock_application`, exclusive) and writes the
   **tombstone** (``personal_data_erasures``, one row per application, kept for good);
2. the service's own anonymiser (:class:`PersonalData` ``.erase``) nulls or deletes its domain rows;
3. :func:`scrub_shared_tables` removes personal fields from the copies of messages the shared
   tables keep: outbox payloads, dead letters (message, error, traceback), task attempts (error,
   traceback).

Why the tombstone: messages do not arrive in order. A status change, a document build, a failed
attempt may come *after* the erasure, and would write the data back. Every code path that
writes personal data first asks :meth:`common.messaging.uow.UnitOfWork.erased`, which takes the
same lock in shared mode and reads the tombstone: on PostgreSQL the two transactions are
serialised by the lock (whichever commits second sees the other's work), on SQLite by
``BEGIN IMMEDIATE``. So the erasure wins whatever the order, replays and duplicates included.

What triggers it: loan_app's erasure request (``POST /loan/applications/{id}/erasure``) or its
retention job, which publish ``PersonalDataErasureRequested``; the other services apply it with
:func:`on_erasure_requested` and answer ``PersonalDataErased``. A service that can tell from its
own rows that an application ended long enough ago (``PersonalData.ended_before``) also erases
by itself (``common.database.retention.anonymise_ended``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import String, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from common.database.upsert import insert_new
from common.kernel.clock import UTCDateTime, isoformat, utcnow
from common.kernel.privacy import ERASED_TEXT, erase, erase_error
from common.messaging.envelope import Envelope
from common.messaging.recorder import Notice

#: Why an application's personal data was erased.
REQUEST, RETENTION = "request", "retention"
#: The advisory-lock namespace of erasures (PostgreSQL's two-key form; a 32-bit signed int).
_LOCK_NAMESPACE = zlib.crc32(b"loanflow.erasure") - 2**31


class ErasureMixin:
    """The tombstone: this service erased the application's personal data (kept for good)."""

    __tablename__ = "personal_data_erasures"

    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))
    #: When the erasure was decided (loan_app's request or retention), and by whom (requests only).
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    requested_by: Mapped[str | None] = mapped_column(String(64))
    #: When this service erased its copy.
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class ErasureRequest:
    """Why and when an application's personal data is erased (``requested_by``: the admin)."""

    reason: str
    requested_at: datetime
    requested_by: str | None = None

    def payload(self) -> dict[str, Any]:
        """What ``PersonalDataErasureRequested`` carries."""
        return {"reason": self.reason, "requested_at": isoformat(self.requested_at)}

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> ErasureRequest:
        return cls(str(data["reason"]), datetime.fromisoformat(data["requested_at"]))


def _nothing(uow: Any, application_id: str, request: ErasureRequest) -> None:
    """The anonymiser of a service whose own tables hold no personal data."""


@dataclass(frozen=True)
class PersonalData:
    """What a service knows of its own personal data (bound by its bootstrap).

    Parameters:
      erase: ``erase(uow, application_id, request)`` anonymises the service's domain rows of one
        application, inside the erasure's unit of work (the shared tables are done for it).
      ended_before: ``ended_before(session, limit, batch)`` lists up to ``batch`` applications
        that ended before ``limit`` and are not erased yet, for a service that can tell from its
        own rows; ``None`` for one that cannot (it waits for loan_app's event).
    """

    erase: Callable[[Any, str, ErasureRequest], None] = _nothing
    ended_before: Callable[[Session, datetime, int], list[str]] | None = None


def lock_application(session: Session, application_id: str, *, exclusive: bool) -> None:
    """Take the application's erasure lock until the transaction ends (PostgreSQL only).

    Exclusive for an erasure, shared for a writer of personal data. Take it before any row lock
    of the application: the erasure takes it first, so a writer holding a row lock while
    waiting for it could deadlock with an erasure waiting for that row.
    """
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already serialises every writer
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    key = zlib.crc32(application_id.encode()) - 2**31
    session.execute(text(f"SELECT {function}(:namespace, :key)"), {"namespace": _LOCK_NAMESPACE, "key": key})


def is_erased(session: Session, model: type, application_id: str) -> bool:
    """True when ``model`` (the service's tombstones) holds ``application_id``; takes the shared lock."""
    lock_application(session, application_id, exclusive=False)
    column = model.__table__.c.application_id  # type: ignore[attr-defined]
    return session.execute(select(column).where(column == application_id)).first() is not None


def erase_application(uow: Any, tables: Any, application_id: str, request: ErasureRequest,
                      personal: PersonalData) -> bool:
    """Erase one application's personal data in ``uow``'s transaction (see the module docstring).

    Idempotent: a second erasure scrubs again (finding nothing) and keeps the first tombstone.

    Returns:
      True if this call wrote the tombstone (the first erasure here).
    """
    lock_application(uow.session, application_id, exclusive=True)
    first = insert_new(uow.session, tables.erasures, ("application_id",), {
        "application_id": application_id, "reason": request.reason, "requested_at": request.requested_at,
        "requested_by": request.requested_by, "erased_at": utcnow()}) is not None
    personal.erase(uow, application_id, request)
    scrub_shared_tables(uow.session, tables, application_id)
    return first


def scrub_shared_tables(session: Session, tables: Any, application_id: str) -> int:
    """Remove personal data from the shared tables' rows of one application; returns rows changed.

    Outbox payloads keep every field but the personal ones (sent rows stay until their
    retention, unsent ones go out without them); dead letters and failed attempts keep their
    message's shape, actor, counts and times, and their error's kind.
    """
    changed = 0
    for row in session.scalars(select(tables.outbox).where(tables.outbox.application_id == application_id)):
        changed += _replace(row, payload=erase(row.payload))
    for row in session.scalars(select(tables.dead_letters).where(tables.dead_letters.application_id == application_id)):
        changed += _replace(row, message=scrub_message(row.message), error=erase_error(row.error),
                            traceback=ERASED_TEXT if row.traceback else None)
    for row in session.scalars(select(tables.attempts).where(tables.attempts.application_id == application_id)):
        changed += _replace(row, error=erase_error(row.error) or ERASED_TEXT,
                            traceback=ERASED_TEXT if row.traceback else None)
    return changed


def scrub_message(message: dict[str, Any] | None) -> dict[str, Any] | None:
    """A parked Dramatiq message (``Message.asdict()``) without personal data: its arguments
    erased, and the traceback Dramatiq's retries keep in its options replaced."""
    if not message:
        return message
    scrubbed = erase(message)
    options = dict(scrubbed.get("options") or {})
    if options.get("traceback"):
        options["traceback"] = ERASED_TEXT
    return {**scrubbed, "options": options}


def _replace(row: Any, **values: Any) -> int:
    """Assign the values that differ (a JSON column is tracked by assignment); 1 if any did."""
    different = {name: value for name, value in values.items() if getattr(row, name) != value}
    for name, value in different.items():
        setattr(row, name, value)
    return 1 if different else 0


def on_erasure_requested(envelope: Envelope, uow: Any, *, service: str, tables: Any,
                         personal: PersonalData) -> None:
    """``PersonalDataErasureRequested``: erase here, and tell loan_app (``PersonalDataErased``).

    Applied once per message id like every message; a new request (a new event) erases again,
    which finds nothing left and confirms again.
    """
    application_id = envelope.application_id or ""
    erase_application(uow, tables, application_id, ErasureRequest.from_payload(envelope.data), personal)
    notice = uow.track(Notice.about(envelope))
    notice.record("PersonalDataErased", {"service": service, "erased_at": isoformat(utcnow())})


def erasure_handlers(runtime: Any, personal: PersonalData) -> dict[str, Any]:
    """The handler a service consuming ``PersonalDataErasureRequested`` binds (its bootstrap)."""
    return {"PersonalDataErasureRequested": partial(on_erasure_requested, service=runtime.name,
                                                    tables=runtime.definition.tables, personal=personal)}

"""notify_app's rows as one unit of work sees them (recipients, the status log, e-mails,
documents), and that unit of work.

The repositories track the rows they hand out, so what an e-mail record records (the work it is
owed) is collected when the unit of work commits.

The two writes of every status change (the recipient's row moves one ``seq`` on, one row joins
the log) are Core statements, not ORM objects: neither row records a message, nothing reads them
back in the transaction, and the ORM's load, identity map and flush cost more CPU than the two
statements themselves (notify_worker applies ~5 messages per application).

A transaction that logs a change announces the row's id when it commits (:data:`LOG_CHANNEL`):
on PostgreSQL by ``pg_notify`` inside the transaction (delivered on commit only, to every process
that ``LISTEN``s), in one process (the embedded mode) by :data:`LOGGED`. The live hub
(``notify_app.live``) is woken by it instead of polling the log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, cast, delete, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from common.database.upsert import insert_or_lock
from common.kernel.clock import utcnow
from common.messaging.uow import Repository, UnitOfWork
from notify_app.adapters.orm import TABLES, Document, EmailRecord, Notification, Recipient
from notify_app.domain.lifecycle import FINAL_STATUSES

#: The PostgreSQL channel on which a committed log row's id is announced.
LOG_CHANNEL = "loanflow_notifications"
_RECIPIENTS = Recipient.__table__
_LOG = Notification.__table__


def _params(table: Any, *names: str) -> dict[str, Any]:
    return {name: bindparam(name, type_=table.c[name].type) for name in names}


# Built once, with bound parameters: a statement built per call with its values inline costs a
# cache key computed over those values (the payload's whole dictionary) at every execution.
_ADVANCED = ("status", "reasons", "last_seq", "updated_at")
#: Columns a status change sets only sometimes: the summary, and the end (a final status).
_OPTIONAL = ("summary", "ended_at")
_SET = {optional: update(_RECIPIENTS).where(_RECIPIENTS.c.application_id == bindparam("key"))
        .values(_params(_RECIPIENTS, *_ADVANCED, *optional))
        for optional in ((), ("summary",), ("ended_at",), ("summary", "ended_at"))}
_CONTACT = ("full_name", "email", "language", "summary", "updated_at")


def _upsert_contact(dialect_insert: Any) -> Any:
    inserted = dialect_insert(_RECIPIENTS).values(_params(_RECIPIENTS, "application_id", "last_seq", *_CONTACT))
    return inserted.on_conflict_do_update(index_elements=["application_id"],
                                          set_={name: inserted.excluded[name] for name in _CONTACT})


_SUBMITTED = {"postgresql": _upsert_contact(postgresql.insert), "sqlite": _upsert_contact(sqlite.insert)}
#: The same, only if the row's ``last_seq`` is the one ``expected``.
_ADVANCE = {key: statement.where(_RECIPIENTS.c.last_seq == bindparam("expected")) for key, statement in _SET.items()}
_LOGGED_COLUMNS = ("event_id", "application_id", "seq", "status", "previous_status", "payload", "at", "recorded_at")
_LOG_INSERT = insert(_LOG).values(_params(_LOG, *_LOGGED_COLUMNS)).returning(_LOG.c.id)
_LOGGED_ROW = _LOG_INSERT.cte("logged")
#: PostgreSQL: the insert and the announcement of its id as one statement.
_LOG_AND_NOTIFY = select(_LOGGED_ROW.c.id, func.pg_notify(LOG_CHANNEL, cast(_LOGGED_ROW.c.id, String)))


class LogSignal:
    """In one process: who wants the ids of log rows as their transactions commit (the hub)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[list[int]], None]] = []
        self._lock = threading.Lock()

    def listen(self, listener: Callable[[list[int]], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def forget(self, listener: Callable[[list[int]], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def publish(self, ids: list[int]) -> None:
        for listener in list(self._listeners):
            listener(ids)


#: This process's log signal (published after every commit that logged a change).
LOGGED = LogSignal()


class Recipients(Repository):
    """Who to tell, one row per application."""

    def get(self, application_id: str) -> Recipient | None:
        return self.track(self.session.get(Recipient, application_id))

    def submitted(self, application_id: str, *, full_name: str, email: str, language: str,
                  summary: dict[str, Any]) -> None:
        """Who to tell about ``application_id``, in one upsert (its first status change may have
        created the row already: then its contact details are filled in)."""
        self.session.execute(_SUBMITTED[self.session.get_bind().dialect.name], {
            "application_id": application_id, "last_seq": 0, "full_name": full_name, "email": email,
            "language": language, "summary": summary, "updated_at": utcnow()})

    def advance(self, application_id: str, seq: int, changes: dict[str, Any]) -> int:
        """Apply status change ``seq`` to the row if it is the next one; the row's ``last_seq`` before.

        ``seq - 1`` returned: applied (the row is locked by the update). Anything else: nothing
        written (a lower ``seq`` was applied already, a higher one waits for its predecessor).
        The common case is one conditional ``UPDATE`` (it waits for a concurrent writer's lock,
        then re-checks ``last_seq``). Only when it matches nothing is the row created if missing
        (``ApplicationSubmitted`` and the first change race to create it: ``INSERT … ON CONFLICT
        DO NOTHING`` lets both go on) and locked, to read where it stands.
        """
        values = {**changes, "last_seq": seq, "updated_at": utcnow(), "key": application_id}
        optional = tuple(name for name in _OPTIONAL if name in changes)
        if self.session.execute(_ADVANCE[optional], {**values, "expected": seq - 1}).rowcount:
            return seq - 1
        row, _ = insert_or_lock(self.session, Recipient, ("application_id",), {
            "application_id": application_id, "summary": {}, "last_seq": 0, "language": "en",
            "updated_at": utcnow()})
        last_seq = int(row.last_seq)
        if last_seq == seq - 1:
            self.session.execute(_SET[optional], values)
            self.session.expire(row)
        return last_seq

    def forget_contact(self, application_id: str) -> None:
        """Erase the applicant's name and e-mail address (the row, its status and summary stay)."""
        self.session.execute(update(Recipient).where(Recipient.application_id == application_id)
                             .values(full_name=None, email=None))

    def access_changed(self, application_id: str, generation: int, valid_from: int) -> None:
        """What loan_app says of the applicant's tokens, merged into the row (created if missing).

        Both numbers only ever grow at loan_app, so the greater of the stored and the received
        one is right whatever order the changes arrive in, and applying one twice changes nothing.
        """
        row, _ = insert_or_lock(self.session, Recipient, ("application_id",), {
            "application_id": application_id, "summary": {}, "last_seq": 0, "language": "en",
            "updated_at": utcnow(), "access_generation": generation, "access_valid_from": valid_from})
        row.access_generation = max(row.access_generation, generation)
        row.access_valid_from = max(row.access_valid_from, valid_from)


def ended_before(session: Session, limit: datetime, batch: int) -> list[str]:
    """Applications whose final status was logged before ``limit`` and that are not erased yet
    (``updated_at`` is the time of the last change applied)."""
    tombstones = TABLES.erasures
    query = (select(Recipient.application_id)
             .where(Recipient.status.in_(FINAL_STATUSES), Recipient.updated_at < limit,
                    ~exists().where(tombstones.application_id == Recipient.application_id))
             .order_by(Recipient.updated_at).limit(batch))
    return list(session.scalars(query))


class Notifications(Repository):
    """The ordered log of status changes."""

    def __init__(self, uow: NotifyUnitOfWork) -> None:
        super().__init__(uow)
        self._logged = uow.logged_ids

    def at(self, application_id: str, seq: int) -> Notification | None:
        return self.track(self.session.scalar(select(Notification).where(
            Notification.application_id == application_id, Notification.seq == seq)))

    def log(self, **values: Any) -> int:
        """Append one change to the log; its id, announced on :data:`LOG_CHANNEL` at commit.

        On PostgreSQL the insert and the ``pg_notify`` are one statement (a data-modifying CTE).
        """
        statement = _LOG_AND_NOTIFY if self.session.get_bind().dialect.name == "postgresql" else _LOG_INSERT
        row_id = int(self.session.execute(statement, {"recorded_at": utcnow(), **values}).scalar_one())
        self._logged.append(row_id)
        return row_id


class Emails(Repository):
    """The e-mails owed, one per application and status change that warrants one."""

    def get(self, application_id: str, seq: int, *, for_update: bool = False) -> EmailRecord | None:
        query = select(EmailRecord).where(EmailRecord.application_id == application_id, EmailRecord.seq == seq)
        return self.track(self.session.scalar(query.with_for_update() if for_update else query))


    def forget(self, application_id: str) -> None:
        """Erase what an application's e-mails could say about the applicant: errors quote the
        recipient's address; an e-mail still owed will not be sent (nobody to send it to)."""
        emails = EmailRecord.__table__
        self.session.execute(update(emails).where(emails.c.application_id == application_id)
                             .values(last_error=None))
        self.session.execute(update(emails).where(emails.c.application_id == application_id,
                                                  emails.c.status == "PENDING")
                             .values(status="SKIPPED", last_error="personal data erased before it was sent"))


class Documents(Repository):
    """The documents generated for an application."""

    def of(self, application_id: str) -> Sequence[Document]:
        return self.session.scalars(select(Document).where(Document.application_id == application_id)).all()

    def delete(self, application_id: str) -> None:
        """Delete the application's documents (the schedule names the applicant)."""
        self.session.execute(delete(Document).where(Document.application_id == application_id))

    def exists(self, application_id: str, kind: str | None = None) -> bool:
        """True if the application has a document (of ``kind``, if given)."""
        query = select(Document.id).where(Document.application_id == application_id)
        return self.session.scalar(query.where(Document.kind == kind) if kind else query) is not None


class NotifyUnitOfWork(UnitOfWork):
    """notify_app's unit of work: its rows, committed with the work the e-mail records are owed;
    the log rows it wrote are announced in this process once committed (:data:`LOGGED`)."""

    recipients: Recipients
    notifications: Notifications
    emails: Emails
    documents: Documents
    logged_ids: list[int]

    def open_repositories(self) -> None:
        self.logged_ids = []
        self.recipients = Recipients(self)
        self.notifications = Notifications(self)
        self.emails = Emails(self)
        self.documents = Documents(self)

    def commit(self) -> None:
        super().commit()
        logged, self.logged_ids[:] = list(self.logged_ids), []
        if logged:
            LOGGED.publish(logged)

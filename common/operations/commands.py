"""What operators do to a service's messages: replay, discard or purge dead letters, retry parked rows.

Each command takes the service's :class:`Runtime`, opens one unit of work, and records the
action in ``operator_actions`` in the same transaction as its effect, naming the signed-in
operator (the username of their token). Refusals are exceptions the views turn into
answers: :class:`NotFound` (404) and :class:`Conflict` (409).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.kernel.jsonable import jsonable
from common.messaging.deadletters import PARKED, discard, replay
from common.service.runtime import Runtime


class NotFound(LookupError):
    """No such dead letter or outbox row."""


class Conflict(Exception):
    """The action does not fit the target's state; the message says why."""


def settle_dead_letter(rt: Runtime, letter_id: str, action: str, operator: str, *,
                       batch: str | None = None) -> Any:
    """``action`` is ``"replay"`` (send it again with its original id, through the outbox) or
    ``"discard"``; returns the dead letter. Raises :class:`NotFound`, or :class:`Conflict` when
    it is not parked any more: the row lock and this check are what keep two operators (or a
    batch and an operator) from replaying one letter twice. ``batch``: the id of the batch
    (:mod:`common.operations.batch`) this action belongs to, kept in its audit detail."""
    tables = rt.definition.tables
    with rt.uow() as uow:
        # The application's erasure lock before the letter's row lock (common.messaging.erasure):
        # a replay's preparation may ask whether the application was erased.
        uow.erased(uow.session.scalar(select(tables.dead_letters.application_id)
                                      .where(tables.dead_letters.id == letter_id)))
        letter = uow.session.get(tables.dead_letters, letter_id, with_for_update=True)
        if letter is None:
            raise NotFound(letter_id)
        if letter.status != PARKED:
            raise Conflict(f"This dead letter was already {letter.status.lower()}.")
        detail: dict[str, Any] = {"message_id": letter.message_id, "actor": letter.actor}
        if batch is not None:
            detail["batch"] = batch
        if action == "replay":
            detail["outbox_id"] = replay(uow, letter, _replay_preparation(rt, letter.message_type))
        else:
            discard(letter)
        audit(rt, uow.session, operator, action, letter_id, **detail)
        uow.commit()
        return letter


def purge_dead_letters(rt: Runtime, operator: str) -> int:
    """Discard every parked dead letter of the service; returns how many."""
    model = rt.definition.tables.dead_letters
    with rt.uow() as uow:
        letters = uow.session.scalars(select(model).where(model.status == PARKED).with_for_update()).all()
        for letter in letters:
            discard(letter)
        audit(rt, uow.session, operator, "purge", f"{rt.name}.XQ", discarded=len(letters))
        uow.commit()
    return len(letters)


def retry_outbox_row(rt: Runtime, row_id: str, operator: str) -> Any:
    """Give a parked outbox row back to the relay with a fresh count of attempts; returns the row.
    Raises :class:`NotFound`, or :class:`Conflict` when the row is not parked."""
    model = rt.definition.tables.outbox
    with rt.uow() as uow:
        row = uow.session.get(model, row_id, with_for_update=True)
        if row is None:
            raise NotFound(row_id)
        if row.parked_at is None or row.sent_at is not None:
            raise Conflict("This outbox row is not parked.")
        row.parked_at, row.attempts = None, 0
        audit(rt, uow.session, operator, "outbox-retry", row.id, queue=row.queue, message_type=row.message_type)
        uow.staged_rows += 1  # wake the relay at commit
        uow.commit()
        return row


def _replay_preparation(rt: Runtime, message_type: str | None) -> Any:
    """The service's ``on_replay`` handler for ``message_type``, if it has one."""
    hooks = rt.bindings.on_replay
    return hooks.get(message_type or "")


def audit(rt: Runtime, session: Session, operator: str, action: str, target: str, **detail: Any) -> None:
    """Record a staff member's action in ``operator_actions``, in ``session``'s transaction (so
    the record commits with the action's effect or not at all). ``detail`` is stored JSON-simple
    (times in ISO 8601, ids and Decimals as text). Every service's audited actions go through here:
    operators' replays, admins' accounts, erasures and policy versions, officers' reviews."""
    session.add(rt.definition.tables.audit(operator=operator, action=action, target=target, detail=jsonable(detail)))

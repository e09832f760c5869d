"""Live tickets: short-lived, single-use credentials that open one WebSocket or SSE stream.

A client exchanges its bearer token (an applicant's or staff's) for a ticket,
``POST /notify/live/tickets`` → ``201 {"ticket", "expires_in"}``, and opens the stream with
``?ticket=…``: what a proxy may log is then a credential that has been spent, or expires within
``LOANFLOW_LIVE_TICKET_SECONDS`` (30), never the token that opens an application for weeks.

A ticket is the caller sealed with its own id (:mod:`notify_app.sealed`); nothing is stored to
issue one. It is used once: presenting it inserts its id into ``used_live_tickets`` (notify's
database, the id as primary key), so a second use fails on the key whichever process or gunicorn
worker it reaches (``401``, ``TICKET_USED``), and it is spent even when the stream is then
refused. The applicant's token behind it is checked again when it is used (a revocation made
within those seconds counts). Rows are deleted once their ticket has expired, when presenting it
fails anyway (:func:`forget_expired`, a periodic job of notify's relay process).

No Flask here: the relay process, which runs the clean-up, loads no web stack.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from common.kernel.clock import utcnow
from common.web.applicant_access import AccessRefused
from common.web.auth import Caller
from notify_app.adapters.orm import UsedTicket
from notify_app.sealed import seal, unseal

_SALT = "loanflow.live-ticket"
#: ``errors.reason`` of a ticket presented a second time.
TICKET_USED = "TICKET_USED"
#: Seconds between two deletions of spent tickets that have expired.
CLEANUP_INTERVAL_SECONDS = 60.0
#: Spent tickets kept this long after they expire (clock differences between processes).
_GRACE = timedelta(seconds=60)


def issue(secret_keys: str | Sequence[str], caller: Caller, now: datetime | None = None) -> str:
    """A ticket standing for ``caller``, made ``now`` (the present by default)."""
    return seal(secret_keys, _SALT, caller, {"id": str(uuid.uuid4())}, now)


def redeem(secret_keys: str | Sequence[str], ticket: str, lifetime: timedelta,
           session_factory: sessionmaker) -> Caller:
    """The caller ``ticket`` stands for, spending it.

    Raises:
      AccessRefused: ``TICKET_INVALID``, ``TICKET_EXPIRED`` or ``TICKET_USED``.
    """
    now = utcnow()
    opened = unseal(secret_keys, _SALT, ticket, lifetime, now, kind="TICKET")
    ticket_id = str(opened.purpose.get("id") or "")
    if not ticket_id or not _spend(session_factory, ticket_id, opened.made_at + lifetime + _GRACE):
        raise AccessRefused(TICKET_USED, "This ticket was used already: a ticket opens one stream. Ask for a new one.")
    return opened.caller


def _spend(session_factory: sessionmaker, ticket_id: str, forget_after: datetime) -> bool:
    """Record ``ticket_id`` as used; False if it was used before (the primary key is taken)."""
    with session_factory() as session:
        session.add(UsedTicket(ticket_id=ticket_id, expires_at=forget_after))
        try:
            session.commit()
        except IntegrityError:
            return False
    return True


def forget_expired(session_factory: sessionmaker) -> int:
    """Delete the spent tickets that have expired; how many."""
    with session_factory() as session:
        deleted = session.execute(delete(UsedTicket).where(UsedTicket.expires_at < utcnow())).rowcount
        session.commit()
    return int(deleted or 0)

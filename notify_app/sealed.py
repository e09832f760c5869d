"""A caller sealed into a short-lived credential that can travel in a URL.

Browsers cannot set an ``Authorization`` header on an EventSource, a WebSocket or a plain link,
and a long-lived token in a URL ends up in proxies' logs and browsers' histories. So those URLs
carry a credential that stands for the caller for a short while instead: a live ticket
(:mod:`notify_app.live.tickets`) or a signed document link
(:mod:`notify_app.resources.documents.links`). Both are this: the caller as their bearer token
said (staff, or the applicant with their token's application, generation and issue time, so that
a revocation made since still counts), what the credential is for, and the time it was made,
signed with the shared key (itsdangerous; each kind with its own salt, so that one never passes
for the other). Nothing is stored to make one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature

from common.web.applicant_access import AccessRefused
from common.web.auth import Caller
from common.web.signing import serializer

#: Longest credential looked at (a ticket or link is ~250 characters).
MAX_LENGTH = 1024
_CALLER_FIELDS = frozenset(field.name for field in dataclasses.fields(Caller))


@dataclasses.dataclass(frozen=True)
class Opened:
    """What a genuine, unexpired credential says: what it is for, who, and when it was made."""

    purpose: dict[str, Any]
    caller: Caller
    made_at: datetime


def seal(secret_keys: str | Sequence[str], salt: str, caller: Caller, purpose: dict[str, Any],
         now: datetime | None = None) -> str:
    """A credential standing for ``caller``, for ``purpose`` (JSON-simple), made ``now``."""
    return str(serializer(secret_keys, salt, now).dumps({"for": purpose, "caller": dataclasses.asdict(caller)}))


def unseal(secret_keys: str | Sequence[str], salt: str, credential: str, lifetime: timedelta, now: datetime,
           *, kind: str) -> Opened:
    """What ``credential`` says, if it is genuine and younger than ``lifetime``.

    ``kind`` names the credential in refusals and their reason codes (``TICKET``, ``LINK``).

    Raises:
      AccessRefused: ``<kind>_INVALID`` (forged, tampered with, malformed) or ``<kind>_EXPIRED``.
    """
    invalid = AccessRefused(f"{kind}_INVALID", f"This {kind.lower()} is not valid.")
    if not credential or len(credential) > MAX_LENGTH:
        raise invalid
    try:
        value, made_at = serializer(secret_keys, salt).loads(credential, return_timestamp=True)
    except BadSignature:
        raise invalid from None
    caller = _caller(value.get("caller") if isinstance(value, dict) else None)
    purpose = value.get("for") if isinstance(value, dict) else None
    if caller is None or not isinstance(purpose, dict):
        raise invalid
    made_at = made_at.astimezone(UTC)
    if now >= made_at + lifetime:
        raise AccessRefused(f"{kind}_EXPIRED", f"This {kind.lower()} has expired: ask for a new one.")
    return Opened(purpose, caller, made_at)


def _caller(fields: Any) -> Caller | None:
    """The sealed caller, ``None`` for anything else (a caller sealed by another version with
    other fields included: such a credential lives for seconds; it is asked for again)."""
    if not isinstance(fields, dict) or set(fields) != _CALLER_FIELDS:
        return None
    try:
        return Caller(**fields)
    except TypeError:
        return None

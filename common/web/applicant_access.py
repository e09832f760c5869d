"""Applicant access tokens: what one carries, and when it stops opening its application.

A token is signed, not stored (itsdangerous, ``LOANFLOW_SECRET_KEY``), so that loan and notify
each check it without asking the other. It carries the application id, a *generation* number
and the time it was issued (the signature's timestamp). Whether a genuine token still opens its
application depends on three facts (:class:`AccessFacts`) that every service accepting applicant
tokens keeps in its own database: loan writes them with the change that causes them, notify
learns them from loan's events (``ApplicantAccessChanged`` and the final
``ApplicationStatusChanged``, docs/events.md). No request ever waits for another service.

The rules (:func:`check`), in this order:

- issued more than ``LOANFLOW_APPLICANT_TOKEN_MAX_DAYS`` ago: ``TOKEN_EXPIRED`` (a hard bound,
  checked from the token alone, whatever a service knows of the application);
- the application ended (final status) more than ``LOANFLOW_APPLICANT_TOKEN_DAYS_AFTER_END``
  ago: ``TOKEN_EXPIRED``;
- its generation is below the application's ``valid_from``: ``TOKEN_REVOKED`` — the applicant or
  an officer revoked the tokens, or a new token was re-issued to the applicant's e-mail address,
  which retires every earlier one (a leaked token is retired by asking for a new one).

A refusal is an :class:`AccessRefused` (401 with ``errors.reason``), never a 404: the token is
genuine, so the applicant learns nothing they did not know, and is told what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from itsdangerous import BadSignature

from common.kernel.clock import utcnow
from common.kernel.settings import Settings
from common.web.signing import has_key, serializer

if TYPE_CHECKING:
    from common.service.runtime import Runtime

#: itsdangerous salt of applicant tokens (a token of another kind never passes for one).
_SALT = "loanflow.applicant-token"
#: Longest token accepted before any work is spent on it.
MAX_TOKEN_LENGTH = 512

#: ``errors.reason`` of each refusal.
TOKEN_EXPIRED, TOKEN_REVOKED = "TOKEN_EXPIRED", "TOKEN_REVOKED"


class AccessRefused(Exception):
    """A genuine credential that no longer opens anything: 401 with ``reason`` and ``message``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ApplicantToken:
    """What a genuine applicant token says."""

    application_id: str
    generation: int
    issued_at: datetime


@dataclass(frozen=True)
class AccessFacts:
    """What a service knows of an application's access: the newest generation issued, the lowest
    still valid (``valid_from``), and when the application ended (``None`` while it runs)."""

    generation: int = 1
    valid_from: int = 1
    ended_at: datetime | None = None


@dataclass(frozen=True)
class Lifetimes:
    """How long applicant tokens last (from the settings)."""

    max_age: timedelta
    after_end: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Lifetimes:
        return cls(max_age=timedelta(days=settings.applicant_token_max_days),
                   after_end=timedelta(days=settings.applicant_token_days_after_end))

    def expires_at(self, issued_at: datetime, ended_at: datetime | None) -> datetime:
        """The moment a token issued at ``issued_at`` expires, given what is known of the end."""
        bound = issued_at + self.max_age
        return min(bound, ended_at + self.after_end) if ended_at is not None else bound


def issue_applicant_token(secret_keys: str | Sequence[str], application_id: str, generation: int = 1,
                          now: datetime | None = None) -> str:
    """A token opening ``application_id``, of ``generation``, issued ``now`` (the present by default)."""
    return str(serializer(secret_keys, _SALT, now).dumps([application_id, generation]))


def read_applicant_token(secret_keys: str | Sequence[str], token: str) -> ApplicantToken | None:
    """What a genuine token says, or ``None`` (forged, malformed, another kind of token).

    Says nothing of whether it is still valid: :func:`check` does, with the application's facts.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH or not has_key(secret_keys):
        return None
    try:
        value, signed_at = serializer(secret_keys, _SALT).loads(token, return_timestamp=True)
    except BadSignature:
        return None
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
            and isinstance(value[1], int) and not isinstance(value[1], bool)):
        return None
    return ApplicantToken(value[0], value[1], signed_at.astimezone(UTC))


def check(token: ApplicantToken, facts: AccessFacts | None, lifetimes: Lifetimes, now: datetime) -> None:
    """Refuse a genuine token that no longer opens its application (see the module docstring).

    ``facts``: the service's knowledge of the application, ``None`` when it has none yet (a
    token of the first generation of an application just submitted).

    Raises:
      AccessRefused: ``TOKEN_EXPIRED`` or ``TOKEN_REVOKED``.
    """
    known = facts or AccessFacts()
    if now >= token.issued_at + lifetimes.max_age:
        raise AccessRefused(TOKEN_EXPIRED, "This access token has expired. Ask for a new one to be sent to "
                                           "your e-mail address (POST /loan/applications/{id}/access-token).")
    if known.ended_at is not None and now >= known.ended_at + lifetimes.after_end:
        raise AccessRefused(TOKEN_EXPIRED, "This access token has expired: the application ended more than "
                                           f"{_days(lifetimes.after_end)} ago.")
    if token.generation < known.valid_from:
        raise AccessRefused(TOKEN_REVOKED, "This access token was revoked, or replaced by a newer one sent to "
                                           "your e-mail address.")


def check_with_facts(rt: Runtime, token: ApplicantToken | None) -> None:
    """:func:`check` an applicant's token with the facts of the service of ``rt`` (``None``, a
    staff caller's: nothing to check; ``Caller.applicant_token()`` gives either).

    A service without facts (``ServiceDefinition.access_facts``) checks the hard bound alone:
    none of its views admits applicants (``Blueprint.applicant_or_staff`` refuses to run there).

    Raises:
      AccessRefused: the token expired or was revoked.
    """
    if token is None:
        return
    reader = rt.definition.access_facts
    facts = reader(rt, token.application_id) if reader is not None else None
    check(token, facts, Lifetimes.of(rt.settings), utcnow())


def _days(span: timedelta) -> str:
    days = span.total_seconds() / 86400
    return f"{days:g} day" + ("" if days == 1 else "s")


def refusal_body(refused: AccessRefused) -> dict[str, Any]:
    """The keyword arguments of flask-smorest's ``abort`` for a refusal (401, reason code)."""
    return {"message": refused.message, "errors": {"reason": refused.reason},
            "headers": {"WWW-Authenticate": 'Bearer error="invalid_token"'}}

"""Who is calling: applicants with a per-application token, staff with their own signed token.

Staff tokens are short-lived JWTs naming the person and their role, issued at sign-in by
loan_app (``POST /auth/token``) and checked here by every service with the shared key
(:mod:`common.identity.staff_tokens`): no service asks another who a caller is.

Applicant tokens are signed (itsdangerous) rather than stored, so every service that shares
``LOANFLOW_SECRET_KEY`` can check one without asking loan_app: notify_app's WebSocket and SSE
endpoints verify the same token the applicant got at submission. The token names the one
application it opens; it cannot be turned into another application's token without the key.
Whether a genuine token has expired or was revoked is decided with the application's facts,
after identification: :mod:`common.web.applicant_access`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from common.identity import staff_tokens
from common.identity.roles import may
from common.kernel.settings import Settings
from common.web.applicant_access import TOKEN_EXPIRED, AccessRefused, ApplicantToken, read_applicant_token

if TYPE_CHECKING:  # only a type here: notify's worker issues tokens (e-mail links) without Flask
    from flask import Request


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of a request: a staff member, or the applicant of one application."""

    staff: bool
    application_id: str | None = None
    #: A staff member's username and role (empty for an applicant): the audit trail's "who".
    username: str = ""
    role: str = ""
    #: An applicant's token: its generation and issue time (epoch seconds), for the expiry and
    #: revocation checks (:func:`applicant_token`). JSON-simple, like every field: a live ticket
    #: or a document link carries the caller as it is.
    generation: int = 0
    issued_at: int = 0

    def may_read(self, application_id: str) -> bool:
        """Staff read everything; an applicant only their own application."""
        return self.staff or self.application_id == application_id

    def has_role(self, *admitted: str) -> bool:
        """A staff member whose role is one of ``admitted`` (or admin: see common.identity.roles)."""
        return self.staff and may(self.role, admitted)

    def applicant_token(self) -> ApplicantToken | None:
        """What the applicant's token said (``None`` for staff)."""
        if self.staff or self.application_id is None:
            return None
        return ApplicantToken(self.application_id, self.generation, datetime.fromtimestamp(self.issued_at, UTC))


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer …`` (empty when absent or malformed)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def identify(token: str, settings: Settings) -> Caller | None:
    """Resolve a token to a caller, or ``None`` when it is not a valid token at all.

    Raises:
      AccessRefused: a genuine staff token that expired (``errors.reason`` ``TOKEN_EXPIRED``,
        as for applicants: the client signs in again).
    """
    if not token:
        return None
    if staff_tokens.looks_like_staff_token(token):
        try:
            claims = staff_tokens.read(settings.staff_verification_keys, token)
        except staff_tokens.TokenExpired:
            raise AccessRefused(TOKEN_EXPIRED, "Your sign-in has expired: sign in again "
                                "(POST /auth/token).") from None
        return None if claims is None else Caller(staff=True, username=claims.username, role=claims.role)
    secret_key = settings.secret_key
    applicant = read_applicant_token(secret_key, token)
    if applicant is None:
        return None
    return Caller(staff=False, application_id=applicant.application_id, generation=applicant.generation,
                  issued_at=int(applicant.issued_at.timestamp()))


def identify_request(request: Request, settings: Settings) -> Caller | None:
    """The caller of ``request`` (its ``Authorization: Bearer`` token), or ``None``.

    Never a token from the query string: URLs end up in proxies' logs and browsers' histories.
    The endpoints browsers open without headers (EventSource, WebSocket, links) take short-lived
    credentials instead (live tickets, signed document links: notify_app).
    """
    return identify(bearer_token(request), settings)

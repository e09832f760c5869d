"""Who is calling: applicants with a per-application token, staff with a shared staff token.

Applicant tokens are signed (itsdangerous) rather than stored, so every service that shares
``LOANFLOW_SECRET_KEY`` can check one without asking loan_app: notify_app's WebSocket and SSE
endpoints verify the same token the applicant got at submission. The token names the one
application it opens; it cannot be turned into another application's token without the key.
Whether a genuine token has expired or was revoked is decided with the application's facts,
after identification: :mod:`common.web.applicant_access`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from common.kernel.settings import Settings
from common.web.applicant_access import ApplicantToken, read_applicant_token

if TYPE_CHECKING:  # only a type here: notify's worker issues tokens (e-mail links) without Flask
    from flask import Request


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of a request: staff, or the applicant of one application."""

    staff: bool
    application_id: str | None = None
    #: An applicant's token: its generation and issue time (epoch seconds), for the expiry and
    #: revocation checks (:func:`applicant_token`). JSON-simple, like every field: a live ticket
    #: or a document link carries the caller as it is.
    generation: int = 0
    issued_at: int = 0

    def may_read(self, application_id: str) -> bool:
        """Staff read everything; an applicant only their own application."""
        return self.staff or self.application_id == application_id

    def applicant_token(self) -> ApplicantToken | None:
        """What the applicant's token said (``None`` for staff)."""
        if self.staff or self.application_id is None:
            return None
        return ApplicantToken(self.application_id, self.generation, datetime.fromtimestamp(self.issued_at, UTC))


def is_staff_token(staff_token: str, token: str) -> bool:
    """Constant-time comparison; an unset staff token admits nobody."""
    return bool(staff_token) and hmac.compare_digest(staff_token.encode(), token.encode())


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer …`` (empty when absent or malformed)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def identify(token: str, *, staff_token: str, secret_key: str) -> Caller | None:
    """Resolve a token to a caller, or ``None`` when it is not a valid token at all."""
    if not token:
        return None
    if is_staff_token(staff_token, token):
        return Caller(staff=True)
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
    return identify(bearer_token(request), staff_token=settings.staff_token,
                    secret_key=settings.secret_key)

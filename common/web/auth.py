"""Who is calling: applicants with a per-application token, staff with a shared staff token.

Applicant tokens are signed (itsdangerous) rather than stored, so every service that shares
``LOANFLOW_SECRET_KEY`` can check one without asking loan_app: notify_app's WebSocket and SSE
endpoints verify the same token the applicant got at submission. The token names the one
application it opens; it cannot be turned into another application's token without the key.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

from itsdangerous import BadSignature, URLSafeSerializer

from common.kernel.settings import Settings

if TYPE_CHECKING:  # only a type here: notify's worker issues tokens (e-mail links) without Flask
    from flask import Request

_SALT = "loanflow.applicant-access"


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of a request: staff, or the applicant of one application."""

    staff: bool
    application_id: str | None = None

    def may_read(self, application_id: str) -> bool:
        """Staff read everything; an applicant only their own application."""
        return self.staff or self.application_id == application_id


def issue_applicant_token(secret_key: str, application_id: str) -> str:
    """The access token handed to the applicant in the ``202`` answer."""
    return URLSafeSerializer(secret_key, salt=_SALT).dumps(application_id)


def verify_applicant_token(secret_key: str, token: str) -> str | None:
    """The application id a genuine token opens, or ``None``."""
    if not secret_key or not token or len(token) > 512:
        return None
    try:
        value = URLSafeSerializer(secret_key, salt=_SALT).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def is_staff_token(staff_token: str, token: str) -> bool:
    """Constant-time comparison; an unset staff token admits nobody."""
    return bool(staff_token) and hmac.compare_digest(staff_token.encode(), token.encode())


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer …`` (empty when absent or malformed)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def request_token(request: Request, *, query: bool = False) -> str:
    """The token a request carries: ``Authorization: Bearer …``, else (with ``query``) ``?token=``.

    Browsers cannot set headers on an EventSource, a WebSocket or a plain link, so the endpoints
    they open also take the token in the query string; every other endpoint takes the header only.
    """
    return bearer_token(request) or (request.args.get("token", "") if query else "")


def identify(token: str, *, staff_token: str, secret_key: str) -> Caller | None:
    """Resolve a token to a caller, or ``None`` when it is not a valid token at all."""
    if not token:
        return None
    if is_staff_token(staff_token, token):
        return Caller(staff=True)
    application_id = verify_applicant_token(secret_key, token)
    return Caller(staff=False, application_id=application_id) if application_id else None


def identify_request(request: Request, settings: Settings, *, query: bool = False) -> Caller | None:
    """The caller of ``request`` (its token from :func:`request_token`), or ``None``."""
    return identify(request_token(request, query=query), staff_token=settings.staff_token,
                    secret_key=settings.secret_key)

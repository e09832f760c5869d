"""Staff access tokens: short-lived JWTs (PyJWT, HS256) carrying the username and the role.

Every service checks a staff token by itself, with the key every service shares, without
calling loan_app (where accounts live): the token is the whole proof. The price of not calling
is that a disabled account's token stays valid until it expires, which is why tokens are short
(``LOANFLOW_STAFF_TOKEN_SECONDS``, 15 minutes by default) and the pages sign in again.

The key is ``LOANFLOW_STAFF_SIGNING_KEY``, or, when unset, one derived from
``LOANFLOW_SECRET_KEY`` for this purpose only (HMAC with a fixed label), so that a small setup
has one secret and a staff token is never a valid applicant token or live ticket. Rotation:
the new key signs, the keys in ``LOANFLOW_STAFF_PREVIOUS_SIGNING_KEYS`` are still accepted, so
nobody is signed out; drop the old key once the longest token has expired (docs/operations.md).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from common.identity.roles import ROLES

ALGORITHM = "HS256"
#: ``iss`` and ``aud`` of every staff token: a JWT made for something else is refused.
ISSUER = "loanflow"
AUDIENCE = "loanflow-staff"
_DERIVATION_LABEL = b"loanflow staff tokens v1"


class TokenExpired(Exception):
    """A genuine staff token (one of our keys signed it) whose lifetime is over: sign in again."""


@dataclass(frozen=True)
class StaffClaims:
    """What a valid staff token says."""

    username: str
    role: str
    expires_at: datetime


def derived_key(secret_key: str) -> str:
    """The staff signing key derived from the shared secret key (empty without one)."""
    if not secret_key:
        return ""
    return hmac.new(secret_key.encode(), _DERIVATION_LABEL, hashlib.sha256).hexdigest()


def issue(key: str, username: str, role: str, now: datetime, lifetime: timedelta) -> str:
    """A token for ``username`` with ``role``, valid from ``now`` for ``lifetime``.

    Raises:
      ValueError: no key (a token anyone could forge is never issued).
    """
    if not key:
        raise ValueError("no staff signing key: set LOANFLOW_SECRET_KEY or LOANFLOW_STAFF_SIGNING_KEY")
    claims = {"sub": username, "role": role, "iss": ISSUER, "aud": AUDIENCE,
              "iat": int(now.timestamp()), "exp": int((now + lifetime).timestamp())}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def looks_like_staff_token(token: str) -> bool:
    """A JWT (three base64url parts, a JSON header): applicant tokens never are."""
    return token.startswith("eyJ") and token.count(".") == 2


def read(keys: Sequence[str], token: str) -> StaffClaims | None:
    """The claims of ``token`` if one of ``keys`` signed it and it has not expired (by the
    system clock, as every service's), else ``None``.

    Raises:
      TokenExpired: one of ``keys`` signed it, but it has expired (worth telling: sign in again).

    Only HS256 is accepted (never ``none`` or an algorithm the token names itself), with our
    issuer and audience, and a role that exists.
    """
    for key in filter(None, keys):
        try:
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                                options={"require": ["exp", "iat", "sub", "role"]})
        except jwt.InvalidSignatureError:
            continue
        except jwt.ExpiredSignatureError:
            raise TokenExpired from None
        except jwt.PyJWTError:
            return None
        if claims["role"] not in ROLES or not isinstance(claims["sub"], str):
            return None
        return StaffClaims(username=claims["sub"], role=claims["role"],
                           expires_at=datetime.fromtimestamp(claims["exp"], UTC))
    return None

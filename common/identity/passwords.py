"""Staff passwords: argon2id hashes (argon2-cffi), never the passwords themselves.

argon2id is memory-hard: guessing a stolen hash costs memory as well as time, which is what
makes GPU farms slow (RFC 9106; OWASP's first choice). The parameters are argon2-cffi's
defaults (RFC 9106's "low memory" profile: 64 MiB, 3 passes), kept in each hash, so raising
them later re-hashes each password at its next sign-in (:func:`needs_rehash`).

An unknown username is checked against a dummy hash, so that it costs the same time as a wrong
password: the answer's timing does not tell which usernames exist.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: Shortest password an account may have; longer is better, any characters.
MIN_LENGTH = 12
#: Longest password accepted (argon2 takes any length; this bounds the work of one request).
MAX_LENGTH = 256

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (with its salt and parameters), to store."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Does ``password`` match ``stored_hash``? ``None`` (no such account) checks a dummy hash
    first, so that the time taken does not say whether the account exists."""
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when ``stored_hash`` was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored_hash)


def password_problem(password: str) -> str | None:
    """Why ``password`` may not be an account's password, or ``None`` when it may."""
    if len(password) < MIN_LENGTH:
        return f"At least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"At most {MAX_LENGTH} characters."
    return None


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("not the password of any account")

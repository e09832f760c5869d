"""Signed, timestamped values (itsdangerous): applicant tokens, live tickets, document links.

One place builds the serializer every kind uses, so that all take the key the same way: the
current secret, or the current one first and then previous ones still accepted while a key is
rotated (itsdangerous takes them oldest first, signs with the last and verifies with any).
Each kind has its own salt, so a value signed for one never passes for another.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from itsdangerous import TimestampSigner, URLSafeTimedSerializer


def has_key(secret_keys: str | Sequence[str]) -> bool:
    """Is there a key to sign or verify with at all? (Without one, nothing is genuine.)"""
    return bool(secret_keys) if isinstance(secret_keys, str) else any(secret_keys)


def serializer(secret_keys: str | Sequence[str], salt: str, moment: datetime | None = None) -> URLSafeTimedSerializer:
    """The serializer of one kind of value (``salt``); ``moment`` fixes the time it signs (a
    clock for tests of expiry that do not wait, and for tokens issued at a known time)."""
    keys = [secret_keys] if isinstance(secret_keys, str) else [key for key in secret_keys if key]
    signer: type[TimestampSigner] = TimestampSigner
    if moment is not None:
        timestamp = int(moment.timestamp())
        signer = type("_SignerAt", (TimestampSigner,), {"get_timestamp": lambda self: timestamp})
    return URLSafeTimedSerializer(list(reversed(keys)), salt=salt, signer=signer)

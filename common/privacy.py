"""Masking personal data wherever message contents are shown to operators or written to logs."""

from __future__ import annotations

from typing import Any

#: Keys whose values identify a person; shown as ``"***"`` in operator views.
PERSONAL_KEYS = frozenset({"full_name", "email", "birth_date", "address", "access_token", "token"})


def mask(value: Any) -> Any:
    """A copy of ``value`` with every personal field replaced by ``"***"``, at any depth."""
    if isinstance(value, dict):
        return {key: "***" if key in PERSONAL_KEYS else mask(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask(item) for item in value]
    return value

"""What the simulator accepts: fault settings and inquiry fields, each refused with a message that
names the field and never echoes its value (a birth date or a name is personal data)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from datetime import date
from typing import Any

#: The longest reference or full name accepted.
MAX_TEXT = 200
#: The fields ``PUT /v1/_faults`` accepts.
FAULT_FIELDS = frozenset({"latency_ms", "failure_rate", "seed"})
_DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}")


class InvalidRequestError(Exception):
    """A request the simulator refuses with 400; the message names the field, never its value."""


def latency_ms(value: Any) -> int:
    """An injected latency: an integer >= 0 (or its text, as an environment variable gives it)."""
    if isinstance(value, str):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("latency_ms must be an integer >= 0")
    return value


def failure_rate(value: Any) -> float:
    """An injected failure rate between 0.0 and 1.0 (or its text)."""
    if isinstance(value, str):
        value = float(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValueError("failure_rate must be a number between 0.0 and 1.0")
    return float(value)


def seed(value: Any) -> int | None:
    """A seed of the random draws: an integer, or None (or empty text) for an unseeded generator."""
    if isinstance(value, str):
        value = int(value.strip()) if value.strip() else None
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError("seed must be an integer or null")
    return value


def text_field(body: Mapping[str, Any], name: str) -> str:
    """A non-empty string of at most :data:`MAX_TEXT` characters, stripped."""
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise InvalidRequestError(f"{name} must be a non-empty string of at most {MAX_TEXT} characters")
    return value.strip()


def birth_date_field(body: Mapping[str, Any]) -> str:
    """A calendar date as ``YYYY-MM-DD``."""
    value = body.get("birth_date")
    if isinstance(value, str) and _DATE_SHAPE.fullmatch(value):
        with suppress(ValueError):
            return date.fromisoformat(value).isoformat()
    raise InvalidRequestError("birth_date must be a calendar date as YYYY-MM-DD")


def fault_changes(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The body of ``PUT /v1/_faults``: some of :data:`FAULT_FIELDS` and nothing else."""
    unknown = sorted(set(body) - FAULT_FIELDS)
    if not body or unknown:
        raise InvalidRequestError(f"expected some of {sorted(FAULT_FIELDS)}, got unknown {unknown}")
    return body

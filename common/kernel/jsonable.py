"""JSON-simple values: what crosses a process boundary (outbox payloads, stored JSON, HTTP).

Decimals become strings (never floats: money must survive the trip to the cent), dates ISO 8601,
UUIDs their canonical text.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID


def jsonable(value: Any) -> Any:
    """``value`` with Decimals, dates and UUIDs turned into strings, containers recursively."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value

"""The envelope every loanflow message travels in, between the outbox and a consumer.

The payload is JSON-simple (strings for Decimals and dates) because it crosses process and
language boundaries; the envelope adds what every consumer needs to be idempotent and traceable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Envelope:
    """A message as a consumer sees it."""

    message_id: str
    event_id: str
    type: str
    application_id: str | None
    correlation_id: str | None
    occurred_at: str
    data: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        """The single JSON argument of the Dramatiq message (ids, not objects)."""
        return {
            "event_id": self.event_id,
            "type": self.type,
            "application_id": self.application_id,
            "correlation_id": self.correlation_id,
            "occurred_at": self.occurred_at,
            "data": self.data,
        }

    @classmethod
    def from_wire(cls, message_id: str, wire: dict[str, Any]) -> Envelope:
        """Rebuild the envelope a consumer received."""
        return cls(
            message_id=message_id,
            event_id=wire["event_id"],
            type=wire["type"],
            application_id=wire.get("application_id"),
            correlation_id=wire.get("correlation_id"),
            occurred_at=wire["occurred_at"],
            data=wire.get("data") or {},
        )

"""A small Server-Sent Events client on aiohttp: every event of a stream, timestamped on arrival.

Streams are opened as browsers open them: with a single-use live ticket in the URL
(:func:`with_ticket`), asked for with the bearer token just before.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from yarl import URL


@dataclass
class Event:
    id: str | None
    event: str
    data: dict[str, Any]
    arrived: float  # time.time() when the blank line closing the event was read


async def with_ticket(session: aiohttp.ClientSession, url: str, token: str) -> str:
    """``url`` (a notify stream) with a fresh live ticket: ``POST /notify/live/tickets`` on the same
    origin with ``token`` as the bearer, then ``?ticket=`` (a ticket opens one stream, once)."""
    origin = url.split("/notify/", 1)[0]
    async with session.post(f"{origin}/notify/live/tickets", headers={"Authorization": f"Bearer {token}"}) as answer:
        answer.raise_for_status()
        ticket = (await answer.json())["ticket"]
    return str(URL(url).update_query(ticket=ticket))


async def events(response: aiohttp.ClientResponse) -> AsyncIterator[Event]:
    """The events of an open ``text/event-stream`` response, until it ends."""
    event_id: str | None = None
    kind = "message"
    data: list[str] = []
    async for raw in response.content:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data:
                yield Event(event_id, kind, json.loads("\n".join(data)), time.time())
            kind, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
        elif name == "event":
            kind = value


def epoch(iso: str) -> float:
    """Seconds since the epoch of an ISO 8601 time with its offset (the events' ``at``)."""
    return datetime.fromisoformat(iso).timestamp()

"""Live channels: how many SSE connections one notify process holds with delivery p99 under 1 s.

An extra notify web process (notify_web's Procfile command, but ``--workers 1 --threads N``, its
own port, ``LOANFLOW_MAX_LIVE_CONNECTIONS`` above N) serves only these connections: each holds a
gthread thread for its whole life. Connections are opened cumulatively (e.g. 50, then 50 more to
100, then 100 more to 200: a closed SSE connection frees its thread only at its next write, up to
15 s later, so closing and reopening would measure the leftovers). At each level a few
applications are submitted through the gateway; every connection follows the staff stream
(``/notify/events``), so each of their status changes reaches every connection. Delay = arrival
on the connection − the event's ``at`` (loan_app's time of the transition, same machine clock):
the outbox relay, RabbitMQ, notify's worker and commit, the tailer's 200 ms poll and the push.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.load import OpenLoop, summary
from bench.sse import epoch, events, with_ticket


@dataclass
class Connection:
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    refused: int | None = None
    arrivals: dict[tuple[str, str], float] = field(default_factory=dict)  # (app id, status) -> delay


async def _hold(session: aiohttp.ClientSession, url: str, token: str, conn: Connection) -> None:
    headers = {"Accept": "text/event-stream"}
    try:
        async with session.get(await with_ticket(session, url, token), headers=headers) as response:
            if response.status != 200:
                conn.refused = response.status
                conn.opened.set()
                return
            conn.opened.set()
            async for event in events(response):
                if event.event == "status":
                    data = event.data
                    conn.arrivals[(data["application_id"], data["status"])] = event.arrived - epoch(data["at"])
    except (TimeoutError, aiohttp.ClientError):
        conn.refused = conn.refused or -1
        conn.opened.set()


async def measure(url: str, gateway: str, staff_token: str, body: dict[str, Any], levels: list[int], *,
                  apps_per_level: int, rate: float, timeout: float = 60,
                  probe: Callable[[], float | None] | None = None) -> list[dict[str, Any]]:
    """Delivery delays at each level of concurrent connections (see the module docstring)."""
    results = []
    connector = aiohttp.TCPConnector(limit=0)
    session = aiohttp.ClientSession(connector=connector,
                                    timeout=aiohttp.ClientTimeout(total=None, connect=10, sock_read=None))
    conns: list[Connection] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        async with OpenLoop(gateway, staff_token, body) as load:
            for level in levels:
                while len(conns) < level:
                    conn = Connection()
                    conns.append(conn)
                    tasks.append(asyncio.create_task(_hold(session, url, staff_token, conn)))
                opened_at = time.monotonic()
                await asyncio.wait_for(asyncio.gather(*(c.opened.wait() for c in conns)), timeout)
                open_seconds = time.monotonic() - opened_at
                await asyncio.sleep(0.5)  # every handler is past its subscribe and blocked on its queue
                step = await load.step(rate, apps_per_level / rate, grace=timeout)
                ids = {s.id for s in load.tracker.by_id.values() if s.id and s.intended >= step["window"][0]}
                live = [c for c in conns if c.refused is None]
                deadline = time.monotonic() + 10
                while True:  # every connection has what any of them got (4 changes an application)
                    wanted = {key for c in live for key in c.arrivals if key[0] in ids}
                    if all(wanted <= c.arrivals.keys() for c in live) and len(wanted) >= 4 * len(ids):
                        break
                    if time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.2)
                delays = [c.arrivals[key] for c in live for key in wanted if key in c.arrivals]
                missing = sum(1 for c in live for key in wanted if key not in c.arrivals)
                stats = summary(delays)
                results.append({
                    "connections": level,
                    "open": len(live),
                    "refused": sum(1 for c in conns if c.refused is not None),
                    "open_seconds": round(open_seconds, 2),
                    "events_expected": len(wanted) * len(live),
                    "events_missing": missing,
                    "delivery_s": stats,
                    "rss_mib": probe() if probe else None,
                    "held": bool(len(live) == level and missing == 0 and stats["p99"] is not None
                                 and stats["p99"] < 1.0),
                })
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await session.close()
    return results

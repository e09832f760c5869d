"""End to end, open loop: applications POSTed at a fixed arrival rate, stepped up until it breaks.

One asyncio loop (aiohttp) in the harness process:

- a scheduler fires ``POST /loan/applications`` at ``t0 + i / rate`` whatever the completions
  (each POST is its own task, so a slow answer never delays the next one);
- one staff SSE connection (``/notify/events``) timestamps the arrival of every application's
  terminal status (APPROVED, REJECTED, FAILED…); on arrival a ``GET /loan/applications/{id}``
  checks that the decision is readable, and is timed too.

Latencies are measured from the **intended** send time (not the actual one), so a client that
falls behind its schedule cannot hide the system's slowness (no coordinated omission). An
application that never reaches a terminal state within the grace period counts as infinitely
late: a step with more than 1 % of them has no p99.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.sse import epoch, events, with_ticket
from tests.support.polling import TERMINAL


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank) of ``values``; ``None`` when it is infinite or undefined."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, math.ceil(q / 100 * len(ordered)) - 1)
    value = ordered[rank]
    return None if math.isinf(value) else value


def summary(values: list[float], scale: float = 1.0, digits: int = 3) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for q in (50, 95, 99):
        value = percentile(values, q)
        out[f"p{q}"] = None if value is None else round(value * scale, digits)
    finite = [v for v in values if not math.isinf(v)]
    out["max"] = round(max(finite) * scale, digits) if finite else None
    return out


@dataclass
class Submission:
    intended: float
    sent: float = 0.0
    answered: float | None = None
    code: int | None = None
    id: str | None = None
    token: str | None = None
    terminal: str | None = None
    arrived: float | None = None  # the terminal event reached the SSE client
    committed: float | None = None  # the terminal event's `at` (loan_app's transition time)
    read: float | None = None  # the GET that saw the decision answered
    read_status: str | None = None
    retry_after: str | None = None  # the Retry-After of a refusal (503 at capacity)
    error: str | None = None  # the exception of a POST that got no answer (code -1)


@dataclass
class Tracker:
    """Joins POST answers and SSE events by application id (either may come first)."""

    by_id: dict[str, Submission] = field(default_factory=dict)
    early: dict[str, tuple[str, float, float]] = field(default_factory=dict)
    reconnects: int = 0
    events_seen: int = 0
    on_terminal: Callable[[Submission], None] | None = None

    def accepted(self, sub: Submission) -> None:
        assert sub.id
        self.by_id[sub.id] = sub
        if sub.id in self.early:
            self._terminal(sub, *self.early.pop(sub.id))

    def event(self, data: dict[str, Any], arrived: float) -> None:
        self.events_seen += 1
        if data.get("status") not in TERMINAL:
            return
        sub = self.by_id.get(data["application_id"])
        if sub is None:
            self.early[data["application_id"]] = (data["status"], arrived, epoch(data["at"]))
        elif sub.terminal is None:
            self._terminal(sub, data["status"], arrived, epoch(data["at"]))

    def _terminal(self, sub: Submission, status: str, arrived: float, committed: float) -> None:
        sub.terminal, sub.arrived, sub.committed = status, arrived, committed
        if self.on_terminal:
            self.on_terminal(sub)


class OpenLoop:
    """The load generator and its SSE observer (use inside ``async with``)."""

    def __init__(self, base: str, staff_token: str, body: dict[str, Any], *, sse_base: str | None = None) -> None:
        self.base = base
        self.sse_base = sse_base or base
        self.staff_token = staff_token
        self.body = body
        self.tracker = Tracker(on_terminal=self._verify)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_event_id: str | None = None
        self._connected = asyncio.Event()

    async def __aenter__(self) -> OpenLoop:
        timeout = aiohttp.ClientTimeout(total=60, connect=10)
        self.http = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=256))
        self.sse_http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=10, sock_read=None))
        self._stream = asyncio.create_task(self._follow())
        await asyncio.wait_for(self._connected.wait(), 30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stream.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._stream
        for task in list(self._tasks):
            task.cancel()
        await self.http.close()
        await self.sse_http.close()

    async def _follow(self) -> None:
        """The staff stream, reconnected with ``Last-Event-ID`` if it ends (it never should)."""
        while True:
            headers = {"Accept": "text/event-stream"}
            if self._last_event_id:
                headers["Last-Event-ID"] = self._last_event_id
            try:
                url = await with_ticket(self.sse_http, f"{self.sse_base}/notify/events", self.staff_token)
                async with self.sse_http.get(url, headers=headers) as response:
                    response.raise_for_status()
                    self._connected.set()
                    async for event in events(response):
                        self._last_event_id = event.id or self._last_event_id
                        if event.event == "status":
                            self.tracker.event(event.data, event.arrived)
            except (TimeoutError, aiohttp.ClientError):
                pass
            self.tracker.reconnects += 1
            await asyncio.sleep(0.5)

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _verify(self, sub: Submission) -> None:
        self._spawn(self._read(sub))

    async def _read(self, sub: Submission) -> None:
        try:
            async with self.http.get(f"{self.base}/loan/applications/{sub.id}",
                                     headers={"Authorization": f"Bearer {sub.token}"}) as response:
                body = await response.json()
            sub.read, sub.read_status = time.time(), body.get("status")
        except (TimeoutError, aiohttp.ClientError, ValueError):
            sub.read_status = "error"

    async def _submit(self, sub: Submission) -> None:
        sub.sent = time.time()
        try:
            async with self.http.post(f"{self.base}/loan/applications", json=self.body) as response:
                sub.code = response.status
                sub.retry_after = response.headers.get("Retry-After")
                body = await response.json() if response.status == 202 else {}
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            sub.code, sub.error = -1, type(error).__name__
            return
        sub.answered = time.time()
        if sub.code == 202:
            sub.id, sub.token = body["id"], body["access_token"]
            self.tracker.accepted(sub)

    async def step(self, rate: float, seconds: float, grace: float) -> dict[str, Any]:
        """Offer ``rate`` applications/s for ``seconds``; wait up to ``grace`` s for the stragglers."""
        start = time.time() + 0.05
        subs = await self.offer(rate, seconds, start)
        scheduled_end = subs[-1].intended
        deadline = scheduled_end + grace
        while time.time() < deadline and not all(s.terminal or s.code not in (None, 202) for s in subs):
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)  # the last verifying GETs
        return self._report(rate, seconds, subs, start, scheduled_end)

    async def offer(self, rate: float, seconds: float, start: float) -> list[Submission]:
        """POST at ``rate``/s from ``start`` for ``seconds`` (at least 2); returns once the last is
        sent, without waiting for answers or outcomes (the surge chains its phases with it)."""
        count = max(2, round(rate * seconds))
        subs = [Submission(intended=start + i / rate) for i in range(count)]
        for sub in subs:
            delay = sub.intended - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._spawn(self._submit(sub))
        return subs

    def _report(self, rate: float, seconds: float, subs: list[Submission], start: float,
                scheduled_end: float) -> dict[str, Any]:
        inf = math.inf
        done = [s for s in subs if s.arrived is not None]
        arrivals = sorted(s.arrived for s in done)  # type: ignore[misc]
        if len(arrivals) >= 2 and arrivals[-1] > arrivals[0]:
            sustained = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
        else:
            sustained = 0.0
        outcomes: dict[str, int] = {}
        for s in done:
            outcomes[s.terminal or "?"] = outcomes.get(s.terminal or "?", 0) + 1
        lateness = [max(0.0, s.sent - s.intended) for s in subs if s.sent]
        readable_ok = sum(1 for s in done if s.read_status in TERMINAL)
        result = {
            "offered_per_s": rate,
            "seconds": seconds,
            "submitted": len(subs),
            "accepted": sum(1 for s in subs if s.code == 202),
            "http_errors": sum(1 for s in subs if s.code not in (None, 202)),
            "completed": len(done),
            "outcomes": outcomes,
            "sustained_per_s": round(sustained, 2),
            "latency_notified_s": summary([(s.arrived - s.intended) if s.arrived else inf for s in subs]),
            "latency_committed_s": summary([(s.committed - s.intended) if s.committed else inf for s in subs]),
            "latency_read_s": summary([(s.read - s.intended) if s.read else inf for s in subs]),
            "latency_post_answer_s": summary([(s.answered - s.intended) if s.answered else inf for s in subs]),
            "readable_verified": readable_ok,
            "scheduler_lateness_s": summary(lateness),
            "window": [start, scheduled_end],
        }
        p99 = result["latency_notified_s"]["p99"]  # type: ignore[index]
        result["held"] = bool(len(done) == len(subs) and p99 is not None and p99 < 2.0)
        return result


async def warm_up(loop: OpenLoop, count: int = 3) -> None:
    """A few applications through the whole pipeline before anything is measured."""
    await loop.step(rate=2.0, seconds=count / 2.0, grace=60)

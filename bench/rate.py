"""Constant-rate HTTP load, latency measured from the intended send time (no coordinated omission).

wrk (closed loop: each connection sends its next request when the previous one is answered)
reports what a server does when the client waits for it; a slow answer delays every request
behind it on the connection, and those delays never show in its percentiles. Users do not wait
for each other: requests arrive at a rate. This generator fires request *i* at
``t0 + i / rate`` whatever happened before, on as many connections as it needs (up to
``--connections``; beyond that a request waits for a free one, and that wait is part of its
latency), and times each from its intended send time — what wrk2 does, in asyncio.

One process sends ``rate / processes`` requests/s, phase-shifted so that together they keep an
even spacing; ``run()`` starts them and merges their latencies. Run alone:
``python -m bench.rate URL --rate 1000 --seconds 10 [--body-file app.json] [-H 'K: V']``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import load

#: A rate is held when p99 from the intended send time stays under this and nothing failed.
P99_TARGET_MS = 100.0


class _Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol for a benchmark.

    Why not aiohttp: at 1,500 requests/s its client costs ~0.4 ms of CPU per request, a third
    of a core taken from the server it measures on the same two cores; a prepared request and a
    status line plus ``Content-Length`` read cost a fraction of that.
    """

    def __init__(self, host: str, port: int, request: bytes) -> None:
        self.host, self.port, self.request = host, port, request
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self) -> int:
        """Send the request once; the response's status code (the body is read and dropped)."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, close = 0, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length:
            await self.reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _prepared(url: str, body: bytes | None, headers: dict[str, str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{'POST' if body is not None else 'GET'} {path} HTTP/1.1", f"Host: {parts.netloc}",
             "Connection: keep-alive", "Accept: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
    return parts.hostname or "127.0.0.1", parts.port or 80, raw


async def _fire(url: str, rate: float, seconds: float, phase: float, *, body: bytes | None,
                headers: dict[str, str], connections: int, start_at: float) -> dict[str, Any]:
    """Send ``rate × seconds`` requests, request *i* due at ``start_at + (i + phase) / rate``.

    ``connections`` coroutines each take the next due request, wait for its time if it is in the
    future, and send it; when every connection is busy, due requests wait for one, and that
    wait counts in their latency (measured from the due time).
    """
    count = max(1, math.floor(rate * seconds))
    host, port, request = _prepared(url, body, headers)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    claimed = 0

    async def connection() -> None:
        nonlocal claimed
        link = _Connection(host, port, request)
        while claimed < count:
            due = start_at + (claimed + phase) / rate
            claimed += 1
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                status = await asyncio.wait_for(link.exchange(), timeout=10)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as error:
                errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                link.close()
                continue
            if status >= 400:
                errors[str(status)] = errors.get(str(status), 0) + 1
            else:
                latencies.append(time.time() - due)
        link.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return {"sent": count, "latencies": latencies, "errors": errors}


def percentiles(latencies: list[float], sent: int) -> dict[str, float | None]:
    """p50…max in ms over every request *sent*: a failed request counts as infinitely late."""
    values = latencies + [math.inf] * (sent - len(latencies))
    out: dict[str, float | None] = {}
    for q in (50, 90, 99):
        value = load.percentile(values, q)  # the end-to-end load's nearest rank, None when infinite
        out[f"p{q}"] = None if value is None else round(value * 1000, 2)
    out["max"] = round(max(latencies) * 1000, 2) if latencies else None
    return out


def run(url: str, rate: float, seconds: float, *, body_file: Path | None = None,
        headers: dict[str, str] | None = None, connections: int = 64, processes: int = 2) -> dict[str, Any]:
    """Offer ``rate`` requests/s for ``seconds`` from ``processes`` generator processes; the merged figures."""
    start_at = time.time() + 1.0 + 0.2 * processes  # every generator imported and connected before it
    command = [sys.executable, "-m", "bench.rate", url, "--rate", str(rate / processes), "--seconds", str(seconds),
               "--connections", str(max(1, connections // processes)), "--start-at", str(start_at), "--worker"]
    if body_file is not None:
        command += ["--body-file", str(body_file)]
    for key, value in (headers or {}).items():
        command += ["-H", f"{key}: {value}"]
    children = [subprocess.Popen([*command, "--phase", str(i / processes)], stdout=subprocess.PIPE, text=True)
                for i in range(processes)]
    parts = [json.loads(child.communicate(timeout=seconds + 60)[0]) for child in children]
    sent = sum(p["sent"] for p in parts)
    latencies = [v for p in parts for v in p["latencies"]]
    errors: dict[str, int] = {}
    for part in parts:
        for key, n in part["errors"].items():
            errors[key] = errors.get(key, 0) + n
    figures = percentiles(latencies, sent)
    return {
        "offered_rps": rate, "seconds": seconds, "sent": sent, "ok": len(latencies), "errors": errors,
        "achieved_rps": round(len(latencies) / seconds, 1), "latency_ms": figures,
        "held": not errors and figures["p99"] is not None and figures["p99"] < P99_TARGET_MS,
        "generator": f"bench.rate: {processes} processes, ≤ {connections} connections",
    }


def ladder(url: str, rates: list[float], seconds: float, **options: Any) -> dict[str, Any]:
    """Each rate in turn until one is not held; the highest held and every step."""
    steps = []
    for rate in rates:
        steps.append(run(url, rate, seconds, **options))
        if not steps[-1]["held"]:
            break
    held = [s["offered_rps"] for s in steps if s["held"]]
    return {"held_rps": max(held) if held else 0.0, "steps": steps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, required=True, help="requests/s (of this process with --worker)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--body-file", type=Path, help="POST this JSON body (default: GET)")
    parser.add_argument("-H", "--header", action="append", default=[], help="'Key: value', repeatable")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    if args.worker:
        body = args.body_file.read_bytes() if args.body_file else None
        part = asyncio.run(_fire(args.url, args.rate, args.seconds, args.phase, body=body, headers=headers,
                                 connections=args.connections, start_at=args.start_at or time.time() + 0.5))
        print(json.dumps(part))
        return 0
    result = run(args.url, args.rate, args.seconds, body_file=args.body_file, headers=headers,
                 connections=args.connections, processes=args.processes)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

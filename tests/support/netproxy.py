"""A TCP proxy between the services and the broker that the tests control (FAULTS #8 and #9).

Run as its own process (``python -m tests.support.netproxy --listen P --target Q --control C``)
so that forwarding never competes with the test's own threads. The control port answers
``PUT /mode`` with JSON:

- ``{"mode": "pass"}``: forward both ways (the default);
- ``{"mode": "blackhole"}``: keep every connection open and accept new ones, but forward nothing
  either way: the network has gone silent, as when a link dies without a FIN or RST; only
  heartbeats can tell;
- ``{"mode": "degraded", "latency_ms": 1000, "jitter_ms": 200, "stall_rate": 0.3, "stall_ms": 1500}``:
  each chunk is held ``latency ± jitter`` and, with probability ``stall_rate``, ``stall_ms`` more:
  what packet loss looks like from userspace (TCP hides the lost segment and delivers it after a
  retransmission timeout), in order and without corrupting the stream.

``POST /reset`` closes every open connection at once (a cut: both peers see a reset);
``GET /stats`` answers the open connection count and the bytes forwarded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Mode:
    """How the proxy treats traffic right now (one for all connections)."""

    mode: str = "pass"
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    stall_rate: float = 0.0
    stall_ms: float = 0.0
    #: Set whenever forwarding may go on (cleared in black-hole mode).
    flowing: asyncio.Event = field(default_factory=asyncio.Event)

    def delay(self) -> float:
        """Seconds to hold the next chunk in degraded mode."""
        if self.mode != "degraded":
            return 0.0
        held = self.latency_ms + random.uniform(-self.jitter_ms, self.jitter_ms)
        if random.random() < self.stall_rate:
            held += self.stall_ms
        return max(0.0, held) / 1000


class Proxy:
    """Forwards ``listen`` → ``target`` on loopback, as :class:`Mode` says."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.mode = Mode()
        self.mode.flowing.set()
        self.connections: set[asyncio.Task[None]] = set()
        self.forwarded = 0

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(65536):
            await self.mode.flowing.wait()
            if held := self.mode.delay():
                await asyncio.sleep(held)
            await self.mode.flowing.wait()
            writer.write(chunk)
            await writer.drain()
            self.forwarded += len(chunk)

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections.add(task)
        upstream_writer = None
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target)
            pipes = [asyncio.create_task(self._pipe(client_reader, upstream_writer)),
                     asyncio.create_task(self._pipe(upstream_reader, client_writer))]
            try:
                await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pipe in pipes:
                    pipe.cancel()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self.connections.discard(task)
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    writer.transport.abort()  # a reset, not a polite FIN: the peer must notice

    async def set_mode(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("mode") not in ("pass", "blackhole", "degraded"):
            return web.json_response({"error": "mode must be pass, blackhole or degraded"}, status=422)
        self.mode.mode = body["mode"]
        for key in ("latency_ms", "jitter_ms", "stall_rate", "stall_ms"):
            setattr(self.mode, key, float(body.get(key, 0.0)))
        if self.mode.mode == "blackhole":
            self.mode.flowing.clear()
        else:
            self.mode.flowing.set()
        return web.json_response({"mode": self.mode.mode})

    async def reset(self, _: web.Request) -> web.Response:
        count = len(self.connections)
        for task in list(self.connections):
            task.cancel()
        return web.json_response({"closed": count})

    async def stats(self, _: web.Request) -> web.Response:
        return web.json_response({"mode": self.mode.mode, "connections": len(self.connections),
                                  "forwarded_bytes": self.forwarded})


async def serve(listen: int, target: int, control: int) -> None:
    proxy = Proxy(target)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", listen)
    app = web.Application()
    app.add_routes([web.put("/mode", proxy.set_mode), web.post("/reset", proxy.reset), web.get("/stats", proxy.stats)])
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", control).start()
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", type=int, required=True)
    parser.add_argument("--control", type=int, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.listen, args.target, args.control))


if __name__ == "__main__":
    main()

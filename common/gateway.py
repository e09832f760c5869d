"""The gateway: one base URL in front of the five services run as separate processes.

Routes ``/<service>/…`` to that service's upstream without rewriting the path, streams responses
(so Server-Sent Events pass through unbuffered) and proxies WebSockets both ways. Built on
aiohttp because one event loop holds thousands of idle live connections cheaply, which a
thread-per-connection WSGI proxy cannot. In compose and Kubernetes an nginx or an Ingress plays
the same role; this one needs no install for the README's process-per-service command.

Upstreams come from ``LOANFLOW_UPSTREAM_<SERVICE>`` (e.g. ``LOANFLOW_UPSTREAM_LOAN=http://127.0.0.1:8001``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from common.gunicorn_errors import LIMITS
from common.logs import configure_logging
from common.settings import SERVICES

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"loan": 8001, "credit": 8002, "property": 8003, "decision": 8004, "notify": 8005}
#: Headers that describe one hop, not the message (RFC 9110 §7.6.1); never forwarded.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
})
#: Largest WebSocket message relayed either way (the services refuse beyond 64 KiB too: 1009).
WS_MAX_MESSAGE = 64 * 1024
#: Paths that belong to a service but do not start with its name.
EXTRA_ROUTES = {"tasks": "notify"}


def upstreams() -> dict[str, str]:
    """``{prefix: base URL}`` from the environment, defaulting to the ports of the Procfile."""
    routes = {
        name: os.environ.get(f"LOANFLOW_UPSTREAM_{name.upper()}", f"http://127.0.0.1:{DEFAULT_PORTS[name]}")
        for name in SERVICES
    }
    for prefix, service in EXTRA_ROUTES.items():
        routes[prefix] = routes[service]
    return routes


def _forward_headers(request: web.Request) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    peer = request.remote or ""
    headers["X-Forwarded-For"] = ", ".join(filter(None, [request.headers.get("X-Forwarded-For"), peer]))
    headers["X-Forwarded-Proto"] = request.scheme
    headers["X-Forwarded-Host"] = request.host
    return headers


async def _proxy_http(request: web.Request, base: str) -> web.StreamResponse:
    session: aiohttp.ClientSession = request.app["session"]
    body = await request.read() if request.can_read_body else None
    try:
        upstream = await session.request(
            request.method, base + request.rel_url.raw_path_qs, headers=_forward_headers(request),
            data=body, allow_redirects=False,
        )
    except (TimeoutError, aiohttp.ClientError):
        return web.json_response({"code": 502, "status": "Bad Gateway", "message": "Service unreachable."},
                                 status=502)
    async with upstream:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for key, value in upstream.headers.items():
            if key.lower() not in HOP_BY_HOP:
                response.headers.add(key, value)
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
        except (aiohttp.ClientError, ConnectionResetError):
            pass  # one side went away mid-stream (an SSE client leaving is normal)
        return response


async def _proxy_ws(request: web.Request, base: str) -> web.StreamResponse:
    session: aiohttp.ClientSession = request.app["session"]
    headers = {k: v for k, v in request.headers.items()
               if k.lower() in ("origin", "cookie", "authorization", "x-forwarded-for", "last-event-id")}
    # The service compares Origin with the host the browser used, which is the gateway's.
    headers["X-Forwarded-Host"] = request.host
    try:
        upstream = await session.ws_connect(base.replace("http", "ws", 1) + request.rel_url.raw_path_qs,
                                            headers=headers, max_msg_size=WS_MAX_MESSAGE, heartbeat=None)
    except aiohttp.WSServerHandshakeError as error:
        return web.json_response({"code": error.status, "message": "WebSocket refused."}, status=error.status)
    except (TimeoutError, aiohttp.ClientError):
        return web.json_response({"code": 502, "message": "Service unreachable."}, status=502)
    client = web.WebSocketResponse(max_msg_size=WS_MAX_MESSAGE)
    await client.prepare(request)

    async def pump(source: object, sink: object) -> None:
        async for message in source:  # type: ignore[attr-defined]
            if message.type == WSMsgType.TEXT:
                await sink.send_str(message.data)  # type: ignore[attr-defined]
            elif message.type == WSMsgType.BINARY:
                await sink.send_bytes(message.data)  # type: ignore[attr-defined]
            else:
                break
        await sink.close(code=getattr(source, "close_code", None) or 1000)  # type: ignore[attr-defined]

    await asyncio.gather(pump(client, upstream), pump(upstream, client), return_exceptions=True)
    return client


#: Where ``/`` redirects, and the answer to a path no service serves. The embedded mode's
#: dispatcher (``common.embedded``) answers its front door with these and :func:`health` too.
HOME = "/loan/docs"
NO_SERVICE = {"code": 404, "status": "Not Found", "message": "No service answers this path."}


def health(routes: Iterable[str]) -> dict[str, Any]:
    """The body of the gateway's own ``GET /health`` (probes); services have ``/<svc>/health``."""
    return {"status": "ok", "service": "gateway", "routes": sorted(routes)}


async def handle(request: web.Request) -> web.StreamResponse:
    if request.path == "/health":
        return web.json_response(health(request.app["upstreams"]))
    prefix = request.path.lstrip("/").split("/", 1)[0]
    base = request.app["upstreams"].get(prefix)
    if base is None:
        if request.path == "/":
            raise web.HTTPFound(HOME)
        return web.json_response(NO_SERVICE, status=404)
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await _proxy_ws(request, base)
    return await _proxy_http(request, base)


#: aiohttp's own bounds on a request line and a header, twice the services' (gunicorn's,
#: :data:`common.gunicorn_errors.LIMITS`): a request over the services' limit is forwarded and
#: refused by the service with its JSON ``414``/``431``; only one over twice that gets aiohttp's
#: plain-text ``400``, which aiohttp gives no way to reword.
HANDLER_LIMITS = {"max_line_size": 2 * LIMITS["limit_request_line"],
                  "max_field_size": 2 * LIMITS["limit_request_field_size"]}


def build_app() -> web.Application:
    """The aiohttp application of the gateway."""
    app = web.Application(client_max_size=int(os.environ.get("LOANFLOW_MAX_BODY_BYTES", 64 * 1024)) + 1024,
                          handler_args=HANDLER_LIMITS)
    app["upstreams"] = upstreams()

    async def session_context(app: web.Application):  # type: ignore[no-untyped-def]
        timeout = aiohttp.ClientTimeout(total=None, connect=5, sock_read=None)
        app["session"] = aiohttp.ClientSession(timeout=timeout, auto_decompress=False,
                                               connector=aiohttp.TCPConnector(limit=512))
        yield
        await app["session"].close()

    app.cleanup_ctx.append(session_context)
    # [\s\S] and not ".": a decoded path may hold a newline (%0A), which "." does not match, and
    # aiohttp would answer its own text/plain 404 instead of forwarding.
    app.router.add_route("*", r"/{tail:[\s\S]*}", handle)
    return app


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the gateway until interrupted."""
    configure_logging("gateway")
    web.run_app(build_app(), host=host, port=port, access_log=None, print=None)

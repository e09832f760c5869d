"""The gateway: one base URL in front of the five services run as separate processes.

Routes ``/<service>/…`` to that service's upstream without rewriting the path, streams responses
(so Server-Sent Events pass through unbuffered) and proxies WebSockets both ways. Built on
aiohttp because one event loop holds thousands of idle live connections cheaply, which a
thread-per-connection WSGI proxy cannot. In compose and Kubernetes an nginx or an Ingress plays
the same role; this one needs no install for the README's process-per-service command.

Upstreams come from ``LOANFLOW_UPSTREAM_<SERVICE>`` (e.g. ``LOANFLOW_UPSTREAM_LOAN=http://127.0.0.1:8001``),
read into :class:`loanflow.settings.GatewaySettings` when the process starts.

Each service's ``/<svc>/metrics`` is not served here (:func:`internal_only`): metrics describe
the whole system to whoever reads them, so Prometheus scrapes the services' own ports instead.

Every request it forwards, WebSocket handshakes included, carries ``X-Forwarded-For`` with the
address the gateway saw appended last: the one hop a service may trust (notify counts live
connections per client address, loan its submissions). Behind an ingress it trusts
(``LOANFLOW_TRUSTED_PROXIES``, none by default) the hop that ingress appended is kept last
instead. A WebSocket's close is relayed with the other side's own code
and reason (:func:`relayed_close`), never with a code RFC 6455 forbids on the wire.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from common.kernel.logs import configure_logging
from common.kernel.networks import is_trusted
from common.web.gunicorn_errors import LIMITS
from common.web.security_headers import security_headers
from loanflow.settings import DEFAULT_PORTS as DEFAULT_PORTS  # where the Procfile runs each service
from loanflow.settings import GatewaySettings

log = logging.getLogger(__name__)

#: Headers that describe one hop, not the message (RFC 9110 §7.6.1); never forwarded.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
})
#: Largest WebSocket message relayed either way (the services refuse beyond 64 KiB too: 1009).
WS_MAX_MESSAGE = 64 * 1024
#: Seconds the gateway keeps an idle upstream connection: shorter than the services' own keep-alive
#: (``keepalive`` in deploy/gunicorn.conf.py, 5 s), so the gateway never reuses a connection that
#: gunicorn is closing (the request would be lost on it and the client would get a 502).
UPSTREAM_KEEPALIVE_SECONDS = 2.0
#: Paths that belong to a service but do not start with its name.
EXTRA_ROUTES = {"tasks": "notify", "auth": "loan"}


def routes(upstreams: Mapping[str, str]) -> dict[str, str]:
    """``{prefix: base URL}``: each service's upstream, and the paths it serves beyond its prefix."""
    table = dict(upstreams)
    for prefix, service in EXTRA_ROUTES.items():
        table[prefix] = table[service]
    return table


def _forwarded_for(request: web.Request) -> str:
    """The client's ``X-Forwarded-For`` with the peer's address appended: the last hop is ours.

    Unless the peer is a proxy we trust (``LOANFLOW_TRUSTED_PROXIES``: an ingress in front of
    us), whose own last hop already is the client's address as it saw it: passed on unchanged.
    """
    received = request.headers.getall("X-Forwarded-For", [])
    peer = request.remote or ""
    if received and is_trusted(peer, request.app["trusted_proxies"]):
        return ", ".join(received)
    return ", ".join(filter(None, [*received, peer]))


def _forward_headers(request: web.Request) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers["X-Forwarded-For"] = _forwarded_for(request)
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


#: Close codes an endpoint may put in a close frame (RFC 6455 §7.4 and the IANA registry): 1004,
#: 1005, 1006 and 1015 are reserved (1005/1006/1015 only *report* a missing status, a connection
#: lost without a close frame, a TLS failure), 1016–2999 are for future standards, 3000–4999 for
#: libraries and applications (our 44xx).
SENDABLE = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015), *range(3000, 5000)})
#: What the gateway sends when a side ended without a close frame: the upstream failed (1011),
#: the client left (1001 to the upstream).
UPSTREAM_LOST, CLIENT_LOST = 1011, 1001


def relayed_close(message: aiohttp.WSMessage | None, lost: int) -> tuple[int, bytes]:
    """The close code and reason to send on, given the ``message`` that ended the other side.

    A close frame's own code and reason pass through; one without a code is a normal close
    (1000); a code no endpoint may send is an error of that side (1011). Without a close frame
    (connection lost, error) the code is ``lost``. aiohttp's ``close_code`` attribute is not used:
    it turns into 1006 when the socket breaks while answering a close frame already received.
    """
    if message is None or message.type != WSMsgType.CLOSE:
        return lost, b""
    code = message.data if isinstance(message.data, int) else 0
    if code in (0, 1005):
        return 1000, b""
    if code not in SENDABLE:
        return 1011, b""
    # A close frame's reason fits in 123 bytes of UTF-8: cut there, never inside a character.
    return code, str(message.extra or "").encode()[:123].decode(errors="ignore").encode()


async def _pump(source: Any, sink: Any, lost: int) -> None:
    """Relay ``source``'s messages to ``sink``, then close ``sink`` as ``source`` was closed."""
    message = None
    while True:
        message = await source.receive()
        if message.type == WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        else:
            break
    code, reason = relayed_close(message, lost)
    await sink.close(code=code, message=reason)


async def _proxy_ws(request: web.Request, base: str) -> web.StreamResponse:
    session: aiohttp.ClientSession = request.app["session"]
    headers = {k: v for k, v in request.headers.items()
               if k.lower() in ("origin", "cookie", "authorization", "last-event-id")}
    headers["X-Forwarded-For"] = _forwarded_for(request)
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
    sockets: weakref.WeakSet[web.WebSocketResponse] = request.app["websockets"]
    sockets.add(client)
    try:
        await asyncio.gather(_pump(client, upstream, CLIENT_LOST), _pump(upstream, client, UPSTREAM_LOST),
                             return_exceptions=True)
    finally:
        sockets.discard(client)
        await upstream.close(code=CLIENT_LOST)  # no-op once closed; else the client left mid-relay
    return client


async def _going_away(app: web.Application) -> None:
    """At shutdown, close every relayed WebSocket with 1001 (reconnect), not by dropping it."""
    for client in list(app["websockets"]):
        await client.close(code=1001, message=b"gateway shutting down: reconnect")


#: Where ``/`` redirects, and the answer to a path no service serves. The embedded mode's
#: dispatcher (``loanflow.embedded``) answers its front door with these, :func:`health` and
#: :func:`internal_only` too.
HOME = "/loan/docs"
NO_SERVICE = {"code": 404, "status": "Not Found", "message": "No service answers this path."}
#: Paths of every service that are for the platform, not for clients: Prometheus scrapes each
#: service's own port (deploy/prometheus/prometheus.yml), never the public entry.
INTERNAL_PATHS = frozenset({"metrics"})


def internal_only(path: str) -> bool:
    """Is ``path`` (decoded) a service's internal endpoint, ``/<prefix>/metrics``, refused in public?

    The path is normalised first as a server behind us could read it (empty and ``.`` segments
    dropped, ``..`` applied), so ``/loan//metrics`` or ``/tasks/../loan/metrics`` is refused too.
    The gateway answers it with :data:`NO_SERVICE`: the endpoint's existence is not revealed.
    """
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    return len(segments) == 2 and segments[1] in INTERNAL_PATHS


def health(routes: Iterable[str]) -> dict[str, Any]:
    """The body of the gateway's own ``GET /health`` (probes); services have ``/<svc>/health``."""
    return {"status": "ok", "service": "gateway", "routes": sorted(routes)}


async def handle(request: web.Request) -> web.StreamResponse:
    if request.path == "/health":
        return web.json_response(health(request.app["upstreams"]))
    prefix = request.path.lstrip("/").split("/", 1)[0]
    base = request.app["upstreams"].get(prefix)
    if base is None or internal_only(request.path):
        if request.path == "/":
            raise web.HTTPFound(HOME)
        return web.json_response(NO_SERVICE, status=404)
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await _proxy_ws(request, base)
    return await _proxy_http(request, base)


#: aiohttp's own bounds on a request line and a header, twice the services' (gunicorn's,
#: :data:`common.web.gunicorn_errors.LIMITS`): a request over the services' limit is forwarded and
#: refused by the service with its JSON ``414``/``431``; only one over twice that gets aiohttp's
#: plain-text ``400``, which aiohttp gives no way to reword.
HANDLER_LIMITS = {"max_line_size": 2 * LIMITS["limit_request_line"],
                  "max_field_size": 2 * LIMITS["limit_request_field_size"]}


async def _secure(request: web.Request, response: web.StreamResponse) -> None:
    """The security headers on the gateway's own answers; a service's answer keeps its own."""
    for name, value in security_headers(response.content_type).items():
        response.headers.setdefault(name, value)


def build_app(settings: GatewaySettings) -> web.Application:
    """The aiohttp application of the gateway."""
    app = web.Application(client_max_size=settings.max_body_bytes + 1024, handler_args=HANDLER_LIMITS)
    app["upstreams"] = routes(settings.upstreams)
    app["trusted_proxies"] = settings.trusted_proxies
    app["websockets"] = weakref.WeakSet()
    app.on_shutdown.append(_going_away)

    async def session_context(app: web.Application):  # type: ignore[no-untyped-def]
        timeout = aiohttp.ClientTimeout(total=None, connect=5, sock_read=None)
        app["session"] = aiohttp.ClientSession(timeout=timeout, auto_decompress=False,
                                               connector=aiohttp.TCPConnector(
                                                   limit=512, keepalive_timeout=UPSTREAM_KEEPALIVE_SECONDS))
        yield
        await app["session"].close()

    app.cleanup_ctx.append(session_context)
    app.on_response_prepare.append(_secure)
    # [\s\S] and not ".": a decoded path may hold a newline (%0A), which "." does not match, and
    # aiohttp would answer its own text/plain 404 instead of forwarding.
    app.router.add_route("*", r"/{tail:[\s\S]*}", handle)
    return app


def serve(settings: GatewaySettings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the gateway until interrupted."""
    configure_logging("gateway", settings.log_level)
    # A client that leaves cancels its handler, which drops the upstream connection at once: an
    # abandoned live stream's slot in notify is released now, not when a heartbeat fails to pass.
    web.run_app(build_app(settings), host=host, port=port, access_log=None, print=None, handler_cancellation=True)

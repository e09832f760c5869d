"""WebSocket endpoints (flask-sock): an applicant's application, or every application for staff.

``/notify/ws/applications/<id>?token=<access token>`` and ``/notify/ws?token=<staff token>``.
On connect the client gets the current state (the application's history; for staff, the latest
state of recent applications), then every change, as JSON text frames in the same shape as the
SSE events; ``{"type": "heartbeat"}`` every 15 s when idle. Close codes: 4401 (no valid token),
4404 (not your application; for staff, an application notify has not heard of), 4408 (too
slow: reconnect and resume), 1001 (server shutting down: reconnect and resume), 1009 (frame too
large).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask, abort, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from common.runtime import Runtime
from notify_app.live.access import caller_of, may_follow, origin_allowed
from notify_app.live.hub import Hub, Subscriber
from notify_app.live.streams import application_events, recipient_of, staff_events, staff_snapshot


class _ReaderThread(threading.Thread):
    """simple_websocket's per-connection reader, as a daemon thread.

    Its default non-daemon thread outlives a client that vanished without closing TCP (it waits
    in ``select`` for the next ping), and Python's exit waits for every non-daemon thread: one
    such connection kept a gunicorn worker alive after ``SIGTERM`` until gunicorn killed it at
    ``graceful_timeout``. The reader holds no state worth finishing.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["daemon"] = True
        super().__init__(*args, **kwargs)


CLOSE_UNAUTHORIZED, CLOSE_NOT_FOUND, CLOSE_TOO_SLOW, CLOSE_GOING_AWAY = 4401, 4404, 4408, 1001
CLOSE_TRY_AGAIN = 1013  # the connection cap of this process


def _send_all(ws: Any, events: Any, subscriber: Any) -> None:
    for event in events:
        if event is None:
            ws.send(json.dumps({"type": "heartbeat"}))
        else:
            ws.send(json.dumps({"type": "status", **event}))
        while ws.receive(timeout=0) is not None:
            pass  # clients have nothing to say; drain so their frames do not pile up
    if subscriber.lagging:
        ws.close(CLOSE_TOO_SLOW, "too slow: reconnect and resume")
    elif subscriber.closed:
        ws.close(CLOSE_GOING_AWAY, "server shutting down: reconnect and resume")


def _follow(ws: Any, hub: Hub, application_id: str | None,
            events_of: Callable[[Subscriber], Iterator[dict[str, Any] | None]],
            snapshot: Callable[[], list[dict[str, Any]]] | None = None) -> None:
    """Subscribe (``None``: every application), send the ``snapshot`` (read once subscribed, so no
    change falls between) then ``events_of(subscriber)``; always unsubscribe."""
    subscriber = hub.subscribe(application_id, "websocket")
    if subscriber is None:
        ws.close(CLOSE_TRY_AGAIN, "try again later")
        return
    try:
        for state in snapshot() if snapshot else ():
            ws.send(json.dumps({"type": "snapshot", **state}))
        _send_all(ws, events_of(subscriber), subscriber)
    except ConnectionClosed:
        pass
    finally:
        hub.unsubscribe(subscriber)


def install_websockets(app: Flask, rt: Runtime, hub: Hub, allowed_origins: frozenset[str]) -> None:
    """Register the WebSocket routes on the notify app."""
    app.config["SOCK_SERVER_OPTIONS"] = {"max_message_size": 64 * 1024, "ping_interval": 25,
                                         "thread_class": _ReaderThread}
    sock = Sock(app)

    @app.before_request
    def _refuse_bad_handshakes() -> None:
        if not request.path.startswith("/notify/ws"):
            return
        if not origin_allowed(request, allowed_origins):
            abort(403, "foreign origin")
        if hub.connections >= hub.max_connections:
            abort(503, "too many live connections")

    @sock.route("/notify/ws/applications/<application_id>")
    def application_socket(ws: Any, application_id: str) -> None:
        caller = caller_of(request, rt)
        if caller is None:
            ws.close(CLOSE_UNAUTHORIZED, "a valid token is required")
            return
        if not may_follow(caller, application_id, recipient_of(rt.session_factory, application_id)):
            ws.close(CLOSE_NOT_FOUND, "not found")
            return
        _follow(ws, hub, application_id, lambda subscriber: application_events(rt.session_factory, subscriber, 0))

    @sock.route("/notify/ws")
    def staff_socket(ws: Any) -> None:
        caller = caller_of(request, rt)
        if caller is None or not caller.staff:
            ws.close(CLOSE_UNAUTHORIZED, "the staff token is required")
            return
        _follow(ws, hub, None, lambda subscriber: staff_events(rt.session_factory, subscriber, 0),
                snapshot=lambda: staff_snapshot(rt.session_factory))
    app.extensions["notify.sock"] = sock

"""WebSocket endpoints (flask-sock): an applicant's application, or every application for staff.

``/notify/ws/applications/<id>?ticket=<live ticket>`` and ``/notify/ws?ticket=<live ticket>`` (a
ticket from ``POST /notify/live/tickets``, single use; or ``Authorization: Bearer`` from clients
that can set headers).
On connect the client gets the current state (the application's history; for staff, the latest
state of recent applications), then every change, as JSON text frames in the same shape as the
SSE events; ``{"type": "heartbeat"}`` every 15 s when idle. An application's socket ends after
its final status, as its SSE stream does (close 1000); one opened with ``?last_event_id=`` (or
``Last-Event-ID``) resumes after that ``seq``, and is closed at once (1000) when nothing is left.
Close codes: 1000 (the application has ended), 4401 (no valid ticket or token; the close reason
starts with the reason code when a genuine one expired, was revoked or used: ``TOKEN_EXPIRED``,
``TOKEN_REVOKED``, ``TICKET_EXPIRED``, ``TICKET_USED``), 4404 (not your application;
for staff, an application notify has not heard of), 4408 (too slow: reconnect and resume), 4429
(this token or this client address holds its maximum of live connections), 1001 (server
shutting down: reconnect and resume), 1009 (frame too large), 1013 (this process's cap).

Every close waits (briefly) for the client's answering close frame before the connection is
dropped: closing the socket at once with the client's answer unread makes the kernel reset the
connection, and a proxy in between (our gateway) may then lose the close frame and its code.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask, abort, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from common.identity.roles import OFFICER
from common.service.runtime import Runtime
from common.web.applicant_access import AccessRefused
from common.web.auth import Caller
from notify_app.live.access import caller_of, cap_keys, last_event_id, may_follow, origin_allowed
from notify_app.live.hub import Hub, Refusal, Subscriber, as_json
from notify_app.live.streams import application_events, ended, recipient_of, staff_events, staff_snapshot


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


CLOSE_NORMAL, CLOSE_UNAUTHORIZED, CLOSE_NOT_FOUND, CLOSE_TOO_SLOW = 1000, 4401, 4404, 4408
#: A staff member whose role may not follow applications (an operator): as a 403 over HTTP.
CLOSE_FORBIDDEN = 4403
CLOSE_GOING_AWAY, CLOSE_TOO_MANY, CLOSE_TRY_AGAIN = 1001, 4429, 1013
#: The close code of each refusal of :meth:`Hub.subscribe`.
REFUSAL_CODES = {Refusal.CLOSING: CLOSE_GOING_AWAY, Refusal.FULL: CLOSE_TRY_AGAIN,
                 Refusal.TOKEN: CLOSE_TOO_MANY, Refusal.ADDRESS: CLOSE_TOO_MANY}
#: Seconds a close waits for the client's answering close frame.
CLOSE_WAIT = 2.0


def _close(ws: Any, code: int, reason: str) -> None:
    """Send the close frame, then let the reader thread take the client's answer (it ends then):
    see the module's docstring. A connection already closed has nothing left to say."""
    try:
        ws.close(code, reason)
    except ConnectionClosed:
        return
    ws.thread.join(timeout=CLOSE_WAIT)


#: Longest close reason (RFC 6455: 123 bytes of UTF-8).
MAX_CLOSE_REASON = 123


def _admit(ws: Any, rt: Runtime, *, staff: bool) -> Caller | None:
    """The caller of the socket's handshake (staff only if ``staff``), or ``None`` once the
    socket is closed with 4401 and why, or 4403 for a staff role that does not follow
    applications (officers and admins do, as on the SSE endpoints)."""
    try:
        caller = caller_of(request, rt)
    except AccessRefused as refused:
        _close(ws, CLOSE_UNAUTHORIZED, f"{refused.reason}: {refused.message}"[:MAX_CLOSE_REASON])
        return None
    if caller is None or (staff and not caller.staff):
        _close(ws, CLOSE_UNAUTHORIZED, "a staff ticket is required" if staff else "a valid ticket is required")
        return None
    if caller.staff and not caller.has_role(OFFICER):
        _close(ws, CLOSE_FORBIDDEN, f"your role ({caller.role}) may not follow applications: it needs officer or admin")
        return None
    return caller


def _send_all(ws: Any, events: Any, subscriber: Subscriber) -> None:
    for event in events:
        if event is None:
            ws.send(json.dumps({"type": "heartbeat"}))
        else:
            ws.send(as_json(event, "status"))
        while ws.receive(timeout=0) is not None:
            pass  # clients have nothing to say; drain so their frames do not pile up
    if subscriber.lagging:
        _close(ws, CLOSE_TOO_SLOW, "too slow: reconnect and resume")
    elif subscriber.closed:
        _close(ws, CLOSE_GOING_AWAY, "server shutting down: reconnect and resume")
    else:  # the application's final status is sent (or the client left: then nobody hears it)
        _close(ws, CLOSE_NORMAL, "final status sent")


def _follow(ws: Any, hub: Hub, application_id: str | None, keys: dict[str, str | None],
            events_of: Callable[[Subscriber], Iterator[dict[str, Any] | None]],
            snapshot: Callable[[], list[dict[str, Any]]] | None = None) -> None:
    """Subscribe (``None``: every application) under the caps of ``keys``, send the ``snapshot``
    (read once subscribed, so no change falls between) then ``events_of(subscriber)``; always
    unsubscribe."""
    subscriber = hub.subscribe(application_id, "websocket", **keys)
    if isinstance(subscriber, Refusal):
        _close(ws, REFUSAL_CODES[subscriber], subscriber.value)
        return
    subscriber.client_gone = lambda: not ws.connected
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
    trusted = rt.settings.trusted_proxies

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
        caller = _admit(ws, rt, staff=False)
        if caller is None:
            return
        recipient, after = recipient_of(rt.session_factory, application_id), last_event_id(request)
        if not may_follow(caller, application_id, recipient):
            _close(ws, CLOSE_NOT_FOUND, "not found")
            return
        if ended(recipient, after):
            _close(ws, CLOSE_NORMAL, "nothing left: the application has ended")
            return
        _follow(ws, hub, application_id, cap_keys(request, caller, trusted), lambda subscriber: application_events(
            rt.session_factory, subscriber, after, end_at_final=True))

    @sock.route("/notify/ws")
    def staff_socket(ws: Any) -> None:
        caller = _admit(ws, rt, staff=True)
        if caller is None:
            return
        _follow(ws, hub, None, cap_keys(request, caller, trusted),
                lambda subscriber: staff_events(rt.session_factory, subscriber, 0),
                snapshot=lambda: staff_snapshot(rt.session_factory))
    app.extensions["notify.sock"] = sock

"""Server-Sent Events: an application's stream, or every application's, as a streamed response.

A stream holds a slot of the hub from subscription to the response's close, which the WSGI
server calls on every exit (end, client gone, error): the slot is released there, not in the
body generator, which a ``HEAD`` or a client gone before the first byte never starts. ``HEAD``
answers what ``GET`` would (404/204 or the stream's headers) without subscribing. The caller has
been admitted by the view's guard; the rules of who may follow what are in
:mod:`notify_app.live.access`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, current_app, request, stream_with_context
from flask_smorest import abort

from common.service.runtime import Runtime
from common.web.auth import Caller
from notify_app.live.access import cap_keys, may_follow, peer_gone
from notify_app.live.hub import Hub, Refusal, Subscriber, as_json
from notify_app.live.streams import application_events, ended, recipient_of, staff_events

#: Headers of every stream (and of the answer to HEAD): no cache, no proxy buffering.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
#: Events of the stream of ``Subscriber``, ``None`` for a heartbeat.
_Events = Callable[[Subscriber], Iterator[dict[str, Any] | None]]


def application_stream(rt: Runtime, caller: Caller, application_id: str, after: int) -> Response:
    """The stream of one application after ``seq`` ``after``, ending at its final status: 404 when
    ``caller`` may not follow it, 204 when it has ended and nothing is left to send."""
    recipient = recipient_of(rt.session_factory, application_id)
    if not may_follow(caller, application_id, recipient):
        abort(404, message="Not found.")
    if ended(recipient, after):
        return Response(status=204)
    return _stream(rt, caller, application_id, lambda subscriber: application_events(
        rt.session_factory, subscriber, after, end_at_final=True), "seq")


def staff_stream(rt: Runtime, caller: Caller, after: int) -> Response:
    """Every application's changes logged after position ``after``, then live ones."""
    return _stream(rt, caller, None, lambda subscriber: staff_events(rt.session_factory, subscriber, after), "id")


def _lines(events: Iterator[dict[str, Any] | None], id_key: str) -> Iterator[str]:
    yield "retry: 2000\n\n"
    for event in events:
        if event is None:
            yield ": keepalive\n\n"
        else:
            yield f"id: {event[id_key]}\nevent: status\ndata: {as_json(event)}\n\n"


def _stream(rt: Runtime, caller: Caller, application_id: str | None, events_of: _Events, id_key: str) -> Response:
    """The stream of ``events_of(subscriber)``, its slot released when the response closes.

    ``HEAD`` gets the headers only and holds nothing: it would subscribe for a body never sent.
    """
    if request.method == "HEAD":
        return Response(iter(()), mimetype="text/event-stream", headers=STREAM_HEADERS)
    hub: Hub = current_app.extensions["notify.hub"]
    subscriber = _subscribe(rt, hub, application_id, caller)
    try:
        subscriber.client_gone = peer_gone(request.environ)
        response = Response(stream_with_context(_lines(events_of(subscriber), id_key)),
                            mimetype="text/event-stream", headers=STREAM_HEADERS)
    except BaseException:
        hub.unsubscribe(subscriber)
        raise
    response.call_on_close(lambda: hub.unsubscribe(subscriber))
    return response


def _subscribe(rt: Runtime, hub: Hub, application_id: str | None, caller: Caller) -> Subscriber:
    """A subscriber, or the JSON refusal: 429 for a token's or an address's cap, 503 for the
    process's (or its shutdown), both with ``Retry-After``."""
    keys = cap_keys(request, caller, rt.settings.trusted_proxies)
    subscriber = hub.subscribe(application_id, "sse", **keys)
    if isinstance(subscriber, Refusal):
        status = 429 if subscriber in (Refusal.TOKEN, Refusal.ADDRESS) else 503
        abort(status, message=f"{subscriber.value}; retry shortly.", headers={"Retry-After": "5"})
    return subscriber

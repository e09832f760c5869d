"""Server-Sent Events of status changes, and the staff list of applications as notify_app knows them.

``GET /notify/applications/<id>/events`` streams one application (its owner or staff);
``GET /notify/events`` streams every application (staff). An application's stream ends after its
final status (``204`` to a client that reconnects with nothing left to receive). Event ids come
from the durable log (an application's ``seq``; the log position for the staff stream), so a
client that reconnects with ``Last-Event-ID`` receives exactly what it missed. Comments
(``: keepalive``) every 15 s.

A stream holds a slot of the hub from subscription to the response's close, which the WSGI
server calls on every exit (end, client gone, error): the slot is released there, not in the
body generator, which a ``HEAD`` or a client gone before the first byte never starts. ``HEAD``
answers what ``GET`` would (401/404/204 or the stream's headers) without subscribing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import marshmallow as ma
from flask import Response, current_app, request, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import fields, validate
from sqlalchemy import func, select

from common.web.auth import Caller
from common.web.http import require_staff, runtime
from notify_app.adapters.orm import Recipient
from notify_app.live.access import caller_of, cap_keys, last_event_id, may_follow, peer_gone
from notify_app.live.hub import Hub, Refusal, Subscriber
from notify_app.live.streams import application_events, ended, recipient_of, staff_events

blp = Blueprint("live", __name__, url_prefix="/notify",
                description="Live status changes (Server-Sent Events) and the officers' list.")

#: One event of the stream, as SSE clients (and schemathesis) read the schema of a
#: ``text/event-stream``: its fields. ``data`` is the status change as JSON (see docs/api.md).
_SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "id": {"type": "string", "description": "Resume from here with Last-Event-ID."},
        "event": {"type": "string", "enum": ["status"]},
        "data": {"type": "string", "description": "JSON: event_id, application_id, seq, status, previous_status, "
                 "at, cause, reasons, offer, requested_information, deadline, summary."},
        "retry": {"type": "integer", "description": "Reconnection delay in milliseconds."},
    },
}
_SSE_200 = {"description": "A text/event-stream of status events (`: keepalive` comments every 15 s when idle).",
            "content": {"text/event-stream": {"schema": _SSE_EVENT}}}
_REFUSED = {
    "429": {"description": "This token or this client address holds its maximum of live streams on this "
                           "server (LOANFLOW_MAX_LIVE_PER_TOKEN, LOANFLOW_MAX_LIVE_PER_ADDRESS); JSON body, "
                           "Retry-After."},
    "503": {"description": "This server holds its maximum of live streams or is shutting down; JSON body, "
                           "Retry-After."}}
_SSE_DOC = {"responses": {"200": _SSE_200, **_REFUSED}}
_APPLICATION_SSE_DOC = {"responses": {
    "200": {**_SSE_200, "description": _SSE_200["description"] + " The stream ends after a final status "
            "(APPROVED, REJECTED, WITHDRAWN, FAILED, EXPIRED): nothing can follow it."},
    "204": {"description": "The application has ended and the client has every event (Last-Event-ID): "
                           "nothing to stream. EventSource stops reconnecting on 204."}, **_REFUSED}}
#: Headers of every stream (and of the answer to HEAD): no cache, no proxy buffering.
_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _hub() -> Hub:
    return current_app.extensions["notify.hub"]


def _lines(events: Iterator[dict[str, Any] | None], id_key: str) -> Iterator[str]:
    yield "retry: 2000\n\n"
    for event in events:
        if event is None:
            yield ": keepalive\n\n"
        else:
            yield f"id: {event[id_key]}\nevent: status\ndata: {json.dumps(event)}\n\n"


def _sse(caller: Caller, application_id: str | None,
         events_of: Callable[[Subscriber], Iterator[dict[str, Any] | None]], id_key: str) -> Response:
    """The stream of ``events_of(subscriber)``, its slot released when the response closes.

    ``HEAD`` gets the headers only and holds nothing: it would subscribe for a body never sent.
    """
    if request.method == "HEAD":
        return Response(iter(()), mimetype="text/event-stream", headers=_STREAM_HEADERS)
    hub = _hub()
    subscriber = _subscribe(hub, application_id, caller)
    try:
        subscriber.client_gone = peer_gone(request.environ)
        response = Response(stream_with_context(_lines(events_of(subscriber), id_key)),
                            mimetype="text/event-stream", headers=_STREAM_HEADERS)
    except BaseException:
        hub.unsubscribe(subscriber)
        raise
    response.call_on_close(lambda: hub.unsubscribe(subscriber))
    return response


def _subscribe(hub: Hub, application_id: str | None, caller: Caller) -> Subscriber:
    """A subscriber, or the JSON refusal: 429 for a token's or an address's cap, 503 for the
    process's (or its shutdown), both with ``Retry-After``."""
    rt = runtime()
    keys = cap_keys(request, caller, frozenset(rt.settings.trusted_proxies))
    subscriber = hub.subscribe(application_id, "sse", **keys)
    if isinstance(subscriber, Refusal):
        status = 429 if subscriber in (Refusal.TOKEN, Refusal.ADDRESS) else 503
        abort(status, message=f"{subscriber.value}; retry shortly.", headers={"Retry-After": "5"})
    return subscriber


@blp.route("/applications/<uuid:application_id>/events")
class ApplicationEvents(MethodView):
    @blp.doc(security=[{"bearer": []}], parameters=[
        {"name": "token", "in": "query", "schema": {"type": "string"},
         "description": "The access token, for clients that cannot set headers (EventSource)."}],
             **_APPLICATION_SSE_DOC)
    def get(self, application_id: Any) -> Response:
        """Stream an application's status changes (SSE)

        The history first (or what followed ``Last-Event-ID``), then every change, up to the final
        status. A stream that stayed open after it would hold a connection for nothing; a client
        that reconnects once it has everything gets ``204``, which tells EventSource to stop.
        """
        application_id = str(application_id)
        rt = runtime()
        caller = caller_of(request, rt)
        if caller is None:
            abort(401, message="A valid token is required.", headers={"WWW-Authenticate": "Bearer"})
        recipient, after = recipient_of(rt.session_factory, application_id), last_event_id(request)
        if not may_follow(caller, application_id, recipient):
            abort(404, message="Not found.")
        if ended(recipient, after):
            return Response(status=204)
        return _sse(caller, application_id, lambda subscriber: application_events(
            rt.session_factory, subscriber, after, end_at_final=True), "seq")


@blp.route("/events")
class AllEvents(MethodView):
    @blp.doc(security=[{"bearer": []}], **_SSE_DOC)
    def get(self) -> Response:
        """Stream every application's status changes (SSE, staff)"""
        rt = runtime()
        caller = caller_of(request, rt)
        if caller is None:
            abort(401, message="A valid token is required.", headers={"WWW-Authenticate": "Bearer"})
        if not caller.staff:
            abort(403, message="Staff only.")
        after = last_event_id(request)
        return _sse(caller, None, lambda subscriber: staff_events(rt.session_factory, subscriber, after), "id")


class RecipientSchema(ma.Schema):
    application_id = fields.String()
    status = fields.String(allow_none=True)
    summary = fields.Dict()
    reasons = fields.List(fields.Dict())
    last_seq = fields.Integer()
    updated_at = fields.DateTime(metadata={"description": "When the current status began."})


class RecipientQuerySchema(ma.Schema):
    status = fields.String(validate=validate.OneOf((
        "SUBMITTED", "EVALUATING", "DECIDING", "INFO_REQUESTED", "APPROVED", "REJECTED", "WITHDRAWN",
        "FAILED", "EXPIRED")))


@blp.route("/applications")
class Applications(MethodView):
    @blp.arguments(RecipientQuerySchema, location="query")
    @blp.response(200, RecipientSchema(many=True))
    @blp.paginate()
    @blp.doc(security=[{"bearer": []}])
    def get(self, args: dict[str, Any], pagination_parameters: Any) -> Any:
        """List applications with their current status (staff; the dashboard's table)"""
        require_staff()
        query = select(Recipient).where(Recipient.status.is_not(None))
        if "status" in args:
            query = query.where(Recipient.status == args["status"])
        with runtime().session_factory() as session:
            pagination_parameters.item_count = session.scalar(select(func.count()).select_from(query.subquery()))
            return session.scalars(query.order_by(Recipient.updated_at.desc())
                                   .offset(pagination_parameters.first_item)
                                   .limit(pagination_parameters.page_size)).all()

"""Server-Sent Events of status changes, and the staff list of applications as notify_app knows them.

``GET /notify/applications/<id>/events`` streams one application (its owner or staff);
``GET /notify/events`` streams every application (staff). An application's stream ends after its
final status (``204`` to a client that reconnects with nothing left to receive). Event ids come
from the durable log (an application's ``seq``; the log position for the staff stream), so a
client that reconnects with ``Last-Event-ID`` receives exactly what it missed. Comments
(``: keepalive``) every 15 s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import marshmallow as ma
from flask import Response, current_app, request, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import fields, validate
from sqlalchemy import func, select

from common.http import require_staff, runtime
from notify_app.adapters.orm import Recipient
from notify_app.live.access import caller_of, may_follow
from notify_app.live.hub import Hub, Subscriber
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
_SSE_DOC = {"responses": {"200": _SSE_200}}
_APPLICATION_SSE_DOC = {"responses": {
    "200": {**_SSE_200, "description": _SSE_200["description"] + " The stream ends after a final status "
            "(APPROVED, REJECTED, WITHDRAWN, FAILED, EXPIRED): nothing can follow it."},
    "204": {"description": "The application has ended and the client has every event (Last-Event-ID): "
                           "nothing to stream. EventSource stops reconnecting on 204."}}}


def _hub() -> Hub:
    return current_app.extensions["notify.hub"]


def _last_event_id() -> int:
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or "0"
    return int(raw) if raw.isdigit() and len(raw) < 18 else 0


def _sse(events: Iterator[dict[str, Any] | None], subscriber: Subscriber, id_key: str) -> Response:
    hub = _hub()

    def generate() -> Iterator[str]:
        try:
            yield "retry: 2000\n\n"
            for event in events:
                if event is None:
                    yield ": keepalive\n\n"
                else:
                    yield f"id: {event[id_key]}\nevent: status\ndata: {json.dumps(event)}\n\n"
        finally:
            hub.unsubscribe(subscriber)

    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _subscribe(application_id: str | None) -> Subscriber:
    hub = _hub()
    subscriber = hub.subscribe(application_id, "sse")
    if subscriber is None:
        reason = "This server is shutting down" if hub.closing else "Too many live connections on this server"
        abort(503, message=f"{reason}; retry shortly.", headers={"Retry-After": "5"})
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
        recipient, after = recipient_of(rt.session_factory, application_id), _last_event_id()
        if not may_follow(caller, application_id, recipient):
            abort(404, message="Not found.")
        if ended(recipient, after):
            return Response(status=204)
        subscriber = _subscribe(application_id)
        return _sse(application_events(rt.session_factory, subscriber, after, end_at_final=True), subscriber, "seq")


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
        subscriber = _subscribe(None)
        return _sse(staff_events(rt.session_factory, subscriber, _last_event_id()), subscriber, "id")


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

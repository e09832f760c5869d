"""Server-Sent Events of status changes, live tickets, and the staff list of applications.

``GET /notify/applications/<id>/events`` streams one application (its owner or staff);
``GET /notify/events`` streams every application (staff). Both take a live ticket as
``?ticket=`` (what an EventSource can send: ``POST /notify/live/tickets`` exchanges a bearer token
for one, :mod:`notify_app.live.tickets`) or the bearer token as a header. An application's stream ends after its
final status (``204`` to a client that reconnects with nothing left to receive). Event ids come
from the durable log (an application's ``seq``; the log position for the staff stream), so a
client that reconnects with ``Last-Event-ID`` receives exactly what it missed. Comments
(``: keepalive``) every 15 s. The streams themselves are built in :mod:`notify_app.live.sse`.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, request
from flask.views import MethodView
from marshmallow import fields, validate

from common.identity.roles import OFFICER
from common.web.blueprint import Blueprint, Credential
from common.web.context import current_caller, runtime
from notify_app import queries
from notify_app.live import sse, tickets
from notify_app.live.access import last_event_id, ticket_caller

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
                 "at, cause, reasons, offer, requested_information, deadline, summary, review "
                 "(REFERRED: {due_at})."},
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
_TICKET_PARAM = [{"name": "ticket", "in": "query", "schema": {"type": "string", "maxLength": 1024},
                  "description": "A live ticket (POST /notify/live/tickets): single use, short-lived. For clients "
                                 "that cannot set the Authorization header (EventSource)."}]
_SSE_DOC = {"parameters": _TICKET_PARAM, "responses": {"200": _SSE_200, **_REFUSED}}
_APPLICATION_SSE_DOC = {"parameters": _TICKET_PARAM, "responses": {
    "200": {**_SSE_200, "description": _SSE_200["description"] + " The stream ends after a final status "
            "(APPROVED, REJECTED, WITHDRAWN, FAILED, EXPIRED): nothing can follow it."},
    "204": {"description": "The application has ended and the client has every event (Last-Event-ID): "
                           "nothing to stream. EventSource stops reconnecting on 204."}, **_REFUSED}}


#: What opens a stream besides the bearer token: a live ticket.
LIVE_TICKET = Credential("a live ticket (?ticket=)", lambda view_kwargs: ticket_caller(request, runtime()))


class TicketSchema(ma.Schema):
    ticket = fields.String(metadata={"description": "Give it as ?ticket= to one WebSocket or SSE URL."})
    expires_in = fields.Integer(metadata={"description": "Seconds it may still be used in "
                                                         "(LOANFLOW_LIVE_TICKET_SECONDS)."})


@blp.route("/live/tickets")
class LiveTickets(MethodView):
    @blp.response(201, TicketSchema)
    @blp.signed_in
    def post(self) -> Any:
        """Exchange a bearer token for a live ticket

        A ticket opens one live channel (SSE or WebSocket, ``?ticket=``) within ``expires_in``
        seconds, once: a second use is ``401`` (``TICKET_USED``), a late one ``401``
        (``TICKET_EXPIRED``). It stands for the token's holder: an applicant's ticket opens their
        application's channels only, staff's the staff stream too. So the long-lived token never
        travels in a URL, where proxies log it.
        """
        settings = runtime().settings
        return {"ticket": tickets.issue(settings.secret_key, current_caller()),
                "expires_in": settings.live_ticket_seconds}, 201


@blp.route("/applications/<uuid:application_id>/events")
class ApplicationEvents(MethodView):
    @blp.doc(**_APPLICATION_SSE_DOC)
    @blp.applicant_or_staff(credential=LIVE_TICKET)
    def get(self, application_id: Any) -> Response:
        """Stream an application's status changes (SSE)

        The history first (or what followed ``Last-Event-ID``), then every change, up to the final
        status. A stream that stayed open after it would hold a connection for nothing; a client
        that reconnects once it has everything gets ``204``, which tells EventSource to stop.
        """
        return sse.application_stream(runtime(), current_caller(), str(application_id), last_event_id(request))


@blp.route("/events")
class AllEvents(MethodView):
    @blp.doc(**_SSE_DOC)
    @blp.staff_only(OFFICER, credential=LIVE_TICKET)
    def get(self) -> Response:
        """Stream every application's status changes (SSE, staff)"""
        return sse.staff_stream(runtime(), current_caller(), last_event_id(request))


class RecipientSchema(ma.Schema):
    application_id = fields.String()
    status = fields.String(allow_none=True)
    summary = fields.Dict()
    reasons = fields.List(fields.Dict())
    last_seq = fields.Integer()
    updated_at = fields.DateTime(metadata={"description": "When the current status began."})


class RecipientQuerySchema(ma.Schema):
    status = fields.String(validate=validate.OneOf((
        "SUBMITTED", "EVALUATING", "DECIDING", "INFO_REQUESTED", "REFERRED", "APPROVED", "REJECTED",
        "WITHDRAWN", "FAILED", "EXPIRED")))


@blp.route("/applications")
class Applications(MethodView):
    @blp.staff_only(OFFICER)
    @blp.arguments(RecipientQuerySchema, location="query")
    @blp.response(200, RecipientSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: Any) -> Any:
        """List applications with their current status (staff; the dashboard's table)"""
        rows, pagination_parameters.item_count = queries.recipients(
            runtime(), args.get("status"), pagination_parameters.first_item, pagination_parameters.page_size)
        return rows

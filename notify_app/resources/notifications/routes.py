"""HTTP views of notify_app: the ordered log of an application's status changes."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields

from common.web.blueprint import Blueprint
from common.web.context import runtime
from notify_app import queries

blp = Blueprint("notifications", __name__, url_prefix="/notify/applications",
                description="What each applicant was told, in order.")


class NotificationSchema(ma.Schema):
    id = fields.Integer(metadata={"description": "Position in the durable log (the SSE event id)."})
    event_id = fields.String()
    application_id = fields.String()
    seq = fields.Integer()
    status = fields.String()
    previous_status = fields.String(allow_none=True)
    at = fields.DateTime()
    payload = fields.Dict()


@blp.route("/<uuid:application_id>/notifications")
class NotificationsOfApplication(MethodView):
    @blp.response(200, NotificationSchema(many=True))
    @blp.applicant_or_staff
    def get(self, application_id: Any) -> Any:
        """List the status changes of an application, oldest first

        Staff, or the applicant with their access token.
        """
        return queries.notifications(runtime(), str(application_id))

"""HTTP views of notify_app: the ordered log of an application's status changes."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import select

from common.web.http import documented_errors, require_reader, runtime
from notify_app.adapters.orm import Notification

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
    @documented_errors(blp, 401, 404)
    @blp.doc(security=[{"bearer": []}])
    def get(self, application_id: Any) -> Any:
        """List the status changes of an application, oldest first

        Staff, or the applicant with their access token.
        """
        application_id = str(application_id)
        require_reader(application_id)
        with runtime().uow() as uow:
            return uow.session.scalars(
                select(Notification).where(Notification.application_id == application_id)
                .order_by(Notification.seq)
            ).all()

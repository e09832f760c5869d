"""Staff endpoints on a service's parked outbox rows: the events its relay could not publish.

The relay parks a row it cannot publish whatever the broker's state (``common.messaging.relay``), so that
the rows after it keep flowing; ``loanflow_outbox_parked_rows`` and the alert
``LoanflowOutboxRowsParked`` point here. An operator reads the error, fixes the cause (a
RabbitMQ permission or policy, a deployment that wrote a bad row) and sends the row back to the
relay with ``retry``, audited in ``operator_actions`` like every dead-letter action.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import fields
from sqlalchemy import select

from common.operations.operations_api import operator_name
from common.web.http import require_staff, runtime

_AUTH = [{"bearer": []}]


class ParkedRowSchema(ma.Schema):
    id = fields.String()
    message_id = fields.String(allow_none=True)
    message_type = fields.String()
    queue = fields.String()
    actor = fields.String()
    application_id = fields.String(allow_none=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    parked_at = fields.DateTime()


def outbox_blueprint(service: str) -> Blueprint:
    """The parked-outbox blueprint of ``service`` (one per service: blueprint names differ)."""
    blp = Blueprint(f"{service}_outbox", __name__, url_prefix=f"/{service}",
                    description="Operators: outbox rows the relay could not publish.")

    @blp.route("/outbox/parked")
    class Parked(MethodView):
        @blp.response(200, ParkedRowSchema(many=True))
        @blp.doc(security=_AUTH)
        def get(self) -> Any:
            """Parked outbox rows (staff), oldest first, with their last publication error."""
            require_staff()
            model = runtime().definition.tables.outbox
            with runtime().session_factory() as session:
                return session.scalars(select(model).where(model.parked_at.is_not(None), model.sent_at.is_(None))
                                       .order_by(model.created_at).limit(500)).all()

    @blp.route("/outbox/<uuid:row_id>/retry")
    class Retry(MethodView):
        @blp.response(200, ParkedRowSchema)
        @blp.alt_response(409, description="The row is not parked.")
        @blp.doc(security=_AUTH)
        def post(self, row_id: Any) -> Any:
            """Give a parked row back to the relay (staff), with a fresh count of attempts. Audited."""
            require_staff()
            tables = runtime().definition.tables
            with runtime().uow() as uow:
                row = uow.session.get(tables.outbox, str(row_id), with_for_update=True)
                if row is None:
                    abort(404, message="No such outbox row.")
                if row.parked_at is None or row.sent_at is not None:
                    abort(409, message="This outbox row is not parked.")
                row.parked_at, row.attempts = None, 0
                uow.session.add(tables.audit(operator=operator_name(), action="outbox-retry", target=row.id,
                                             detail={"queue": row.queue, "message_type": row.message_type}))
                uow.staged_rows += 1  # wake the relay at commit
                uow.commit()
                return row

    return blp

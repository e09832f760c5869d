"""HTTP views of ``/credit/inquiries``: the credit check of an application, as recorded."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields

from common.identity.roles import OFFICER
from common.web.blueprint import Blueprint, or_404
from common.web.context import runtime
from credit_app import queries

blp = Blueprint("inquiries", __name__, url_prefix="/credit/inquiries",
                description="Credit inquiries made for applications, and their cancellation.")


class InquirySchema(ma.Schema):
    application_id = fields.String()
    status = fields.String()
    bureau_found = fields.Boolean(allow_none=True)
    score = fields.Integer(allow_none=True)
    payment_incidents = fields.Integer(allow_none=True)
    open_credits = fields.Integer(allow_none=True)
    monthly_income = fields.Decimal(as_string=True, allow_none=True)
    monthly_debts = fields.Decimal(as_string=True, allow_none=True)
    debt_to_income = fields.Decimal(as_string=True, allow_none=True)
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    cancel_reason = fields.String(allow_none=True)


@blp.route("/<uuid:application_id>")
class InquiryByApplication(MethodView):
    @blp.response(200, InquirySchema)
    @blp.staff_only(OFFICER)
    def get(self, application_id: Any) -> Any:
        """Read the credit inquiry of an application

        Staff only. The applicant reads it in ``GET /loan/applications/{id}``: applicant tokens
        are accepted where their expiry and revocation are known (loan and notify).
        """
        return or_404(queries.inquiry(runtime(), str(application_id)))

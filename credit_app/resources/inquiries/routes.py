"""HTTP views of ``/credit/inquiries``: the credit check of an application, as recorded."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from common.web.http import documented_errors, owned_record
from credit_app.adapters.orm import CreditInquiry

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
    @documented_errors(blp, 401, 404)
    @blp.doc(security=[{"bearer": []}])
    def get(self, application_id: Any) -> Any:
        """Read the credit inquiry of an application

        Staff, or the applicant with their access token.
        """
        return owned_record(CreditInquiry, str(application_id))

"""HTTP views of ``/property/valuations``: the valuation of an application's property."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields

from common.identity.roles import OFFICER
from common.web.blueprint import Blueprint, or_404
from common.web.context import runtime
from property_app import queries

blp = Blueprint("valuations", __name__, url_prefix="/property/valuations",
                description="Property valuations and loan-to-value.")


class ValuationSchema(ma.Schema):
    application_id = fields.String()
    status = fields.String()
    postcode = fields.String()
    city = fields.String()
    kind = fields.String()
    surface_m2 = fields.Decimal(as_string=True)
    estimated_value = fields.Decimal(as_string=True, allow_none=True)
    price_per_m2 = fields.Decimal(as_string=True, allow_none=True)
    loan_to_value = fields.Decimal(as_string=True, allow_none=True)
    reference = fields.String(allow_none=True)
    adjustments = fields.List(fields.Dict())
    failure_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()


@blp.route("/<uuid:application_id>")
class ValuationByApplication(MethodView):
    @blp.response(200, ValuationSchema)
    @blp.staff_only(OFFICER)
    def get(self, application_id: Any) -> Any:
        """Read the valuation of an application's property

        Staff only. The applicant reads it in ``GET /loan/applications/{id}``: applicant tokens
        are accepted where their expiry and revocation are known (loan and notify).
        """
        return or_404(queries.valuation(runtime(), str(application_id)))

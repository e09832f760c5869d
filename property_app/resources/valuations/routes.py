"""HTTP views of ``/property/valuations``: the valuation of an application's property."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from common.web.http import documented_errors, owned_record
from property_app.adapters.orm import PropertyValuation

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
    @documented_errors(blp, 401, 404)
    @blp.doc(security=[{"bearer": []}])
    def get(self, application_id: Any) -> Any:
        """Read the valuation of an application's property

        Staff, or the applicant with their access token.
        """
        return owned_record(PropertyValuation, str(application_id))

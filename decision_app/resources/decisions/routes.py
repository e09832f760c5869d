"""HTTP views of decision_app: an application's decisions, explained, and the policy in force."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import select

from common.kernel.jsonable import jsonable
from common.web.http import documented_errors, require_reader, runtime
from decision_app.adapters.orm import DecisionRecord
from decision_app.domain.policy import PolicyConfig

blp = Blueprint("decisions", __name__, url_prefix="/decision",
                description="Decisions with their inputs, rule results and policy version; the policy.")


class DecisionRecordSchema(ma.Schema):
    id = fields.String()
    application_id = fields.String()
    round = fields.Integer()
    outcome = fields.String()
    policy_version = fields.String()
    explanation = fields.Dict()
    created_at = fields.DateTime()


@blp.route("/decisions/<uuid:application_id>")
class DecisionsOfApplication(MethodView):
    @blp.response(200, DecisionRecordSchema(many=True))
    @documented_errors(blp, 401, 404)
    @blp.doc(security=[{"bearer": []}])
    def get(self, application_id: Any) -> Any:
        """List the decisions of an application

        One per evaluation round, each with the inputs (debt-to-income, loan-to-value, score),
        every rule's result and the policy version. Staff, or the applicant with their token.
        """
        application_id = str(application_id)
        require_reader(application_id)
        with runtime().uow() as uow:
            return uow.session.scalars(
                select(DecisionRecord).where(DecisionRecord.application_id == application_id)
                .order_by(DecisionRecord.round)
            ).all()


@blp.route("/policy")
class Policy(MethodView):
    @blp.response(200)
    def get(self) -> Any:
        """Read the lending policy in force

        Thresholds, rate grid and version; public, as a bank's published criteria are.
        """
        config: PolicyConfig = runtime().bindings.dependencies.policy
        return jsonable(asdict(config))

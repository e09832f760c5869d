"""HTTP views of decision_app: an application's decisions, explained, and the policy in force
(its versions: decision_app.resources.policies)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields

from common.identity.roles import OFFICER
from common.web.blueprint import Blueprint
from common.web.context import runtime
from decision_app import queries

blp = Blueprint("decisions", __name__, url_prefix="/decision",
                description="Decisions with their inputs, rule results and policy version; the policy.")


class DecisionRecordSchema(ma.Schema):
    id = fields.String()
    application_id = fields.String()
    round = fields.Integer()
    outcome = fields.String()
    policy_version = fields.String()
    decided_by = fields.String(metadata={"enum": ["rules", "officers"]})
    explanation = fields.Dict()
    created_at = fields.DateTime()


@blp.route("/decisions/<uuid:application_id>")
class DecisionsOfApplication(MethodView):
    @blp.response(200, DecisionRecordSchema(many=True))
    @blp.staff_only(OFFICER)
    def get(self, application_id: Any) -> Any:
        """List the decisions of an application

        One per evaluation round, each with the inputs (debt-to-income, loan-to-value, score),
        every rule's result and the policy version. Staff only. The applicant reads the
        current one in ``GET /loan/applications/{id}``: applicant tokens
        are accepted where their expiry and revocation are known (loan and notify).
        """
        return queries.decisions(runtime(), str(application_id))


@blp.route("/policy")
class Policy(MethodView):
    @blp.response(200)
    def get(self) -> Any:
        """Read the lending policy in force

        Version, thresholds (referral bands included) and rate grid: the version an admin
        published last, or the built-in one; public, as a bank's published criteria are.
        """
        return queries.policy(runtime())

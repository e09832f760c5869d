"""HTTP views of the policy versions: list (officers), create, shadow-run and publish (admin).

The views only parse, guard and answer; what each does is decision_app.policies, which audits
every change with the signed-in admin's username. The admin-only actions check the token
before the body (as ``/auth/accounts`` does): a caller who may not act learns nothing from a 422.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import abort

from common.identity.roles import OFFICER
from common.web.blueprint import Blueprint
from common.web.context import current_caller, runtime
from decision_app import policies
from decision_app.resources.policies.schemas import (
    PolicyCreateSchema,
    PolicyVersionSchema,
    ShadowReportSchema,
    ShadowRequestSchema,
)

#: ``errors.reason`` of a 409: the name is taken, or the thresholds contradict each other.
VERSION_EXISTS, POLICY_INCONSISTENT = "VERSION_EXISTS", "POLICY_INCONSISTENT"

blp = Blueprint("policies", __name__, url_prefix="/decision",
                description="Versions of the lending policy: drafts, shadow runs on past decisions, publication "
                            "(admin); the list (officers).")


@blp.route("/policies")
class PolicyVersions(MethodView):
    @blp.response(200, PolicyVersionSchema(many=True))
    @blp.staff_only(OFFICER)
    def get(self) -> Any:
        """List the policy versions

        Newest first, each with its status (`draft`, `published` for the one in force — `active`
        — or `retired`) and every threshold. The built-in policy is listed as its version, in
        force until another one is published.
        """
        return policies.versions(runtime())

    @blp.staff_only()
    @blp.arguments(PolicyCreateSchema)
    @blp.response(201, PolicyVersionSchema)
    @blp.errors(400, 409, 413, 415,
                e409="The version exists already (errors.reason VERSION_EXISTS), or the thresholds contradict "
                     "each other once merged with the policy in force (errors.reason POLICY_INCONSISTENT; "
                     "errors.json.thresholds names each field).")
    def post(self, data: dict[str, Any]) -> Any:
        """Create a policy version (admin). Audited.

        A draft: the policy in force with the given thresholds changed. It applies to no decision
        until it is published; try it first on past decisions (`…/shadow`).
        """
        try:
            return policies.create(runtime(), data["version"], data["thresholds"], data["note"],
                                   by=current_caller().username), 201
        except policies.VersionExists:
            abort(409, message="A policy version by this name exists already.", errors={"reason": VERSION_EXISTS})
        except policies.InconsistentPolicy as inconsistent:
            abort(409, message="The thresholds contradict each other.",
                  errors={"reason": POLICY_INCONSISTENT, "json": {"thresholds": inconsistent.errors}})


@blp.route("/policies/<string:version>/shadow")
class PolicyShadowRun(MethodView):
    @blp.staff_only()
    @blp.arguments(ShadowRequestSchema)
    @blp.response(200, ShadowReportSchema)
    @blp.errors(400, 404, 413, 415, e404="No policy version by this name.")
    def post(self, data: dict[str, Any], version: str) -> Any:
        """Try a policy version on past decisions (admin). Audited.

        Decides the most recent decisions the rules made (`limit`, `since`) again under this
        version, in memory, and reports each whose outcome would change. Nothing is changed or
        sent; decisions made before their facts were kept are counted as `skipped`.
        """
        try:
            return policies.shadow(runtime(), version, by=current_caller().username, limit=data["limit"],
                                   since=data["since"])
        except policies.NoSuchVersion:
            abort(404, message="No policy version by this name.")


@blp.route("/policies/<string:version>/publish")
class PolicyPublication(MethodView):
    @blp.staff_only()
    @blp.response(200, PolicyVersionSchema)
    @blp.errors(404, e404="No policy version by this name.")
    def post(self, version: str) -> Any:
        """Publish a policy version (admin). Audited.

        It is in force in every process within seconds and recorded with each decision made
        under it. A retired version (or the built-in one) may be published again; publishing the
        version in force changes nothing.
        """
        try:
            return policies.publish(runtime(), version, by=current_caller().username)
        except policies.NoSuchVersion:
            abort(404, message="No policy version by this name.")

"""HTTP views of ``/loan/applications``: translate each request to one query or command, nothing more."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask.views import MethodView
from flask_smorest import abort

from common.identity.roles import OFFICER
from common.kernel.clock import utcnow
from common.kernel.jsonable import jsonable
from common.web.applicant_access import Lifetimes, issue_applicant_token
from common.web.blueprint import Blueprint, or_404
from common.web.context import current_caller, runtime
from common.web.ratelimit import rate_limited
from loan_app import admission, commands, queries
from loan_app.domain.status import InvalidTransition, NotEnded
from loan_app.resources.applications.schemas import (
    AcceptedSchema,
    ApplicationCreateSchema,
    ApplicationSchema,
    ApplicationSummarySchema,
    ErasureSchema,
    InformationSchema,
    ListQuerySchema,
    TokenRequestAnswerSchema,
    TokenRequestSchema,
)

#: Schema instances built once: given a class, webargs builds one per request, deep-copying every
#: field and nested schema (a tenth of the CPU of a POST). Loading keeps no state on the instance.
CREATE, INFORMATION, LIST_QUERY = ApplicationCreateSchema(), InformationSchema(), ListQuerySchema()

#: The one answer to a request for a new token, whatever happened (it must reveal nothing).
TOKEN_REQUESTED = {"message": "If this address is the one the application was made with, a new access token "
                              "has been sent to it. Earlier tokens no longer work once it is sent."}

blp = Blueprint(
    "applications",
    __name__,
    url_prefix="/loan/applications",
    description="Submit a home-loan application, follow it, answer requests, withdraw.",
)


def _language() -> str:
    return request.accept_languages.best_match(["en", "fr"], default="en") or "en"


@blp.route("")
class Applications(MethodView):
    @admission.bounded(blp)
    @rate_limited(blp, "submit_rate_limit", scope="submit")
    @blp.arguments(CREATE)
    @blp.response(202, AcceptedSchema, headers={"Location": {"description": "URL of the application",
                                                             "schema": {"type": "string"}}})
    @blp.errors(400, 413, 415)
    def post(self, data: dict[str, Any]) -> Any:
        """Submit an application

        Validates and stores it, then answers at once; the evaluation runs in the background.
        Keep ``access_token``: it is the only key to this application. Each client address may
        submit ``LOANFLOW_SUBMIT_RATE_LIMIT`` applications per window (default 20 a minute).
        """
        data = jsonable(data)  # the aggregate stores and sends JSON-simple values
        data["applicant"].setdefault("language", _language())
        rt = runtime()
        application = commands.submit(rt, data)
        location = url_for("applications.ApplicationById", application_id=application.id)
        now = utcnow()
        body = {
            "id": application.id,
            "status": application.status,
            "access_token": issue_applicant_token(rt.settings.secret_key, application.id, 1, now),
            "access_token_expires_at": Lifetimes.of(rt.settings).expires_at(now, None),
            "links": {"self": location, "events": f"/notify/applications/{application.id}/events"},
        }
        return body, 202, {"Location": location}

    @blp.staff_only(OFFICER)
    @blp.arguments(LIST_QUERY, location="query")
    @blp.response(200, ApplicationSummarySchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: Any) -> Any:
        """List applications (staff)

        Newest first; filter by ``status``; paginated (``X-Pagination`` header).
        """
        items, pagination_parameters.item_count = queries.applications(
            runtime(), args.get("status"), pagination_parameters.first_item, pagination_parameters.page_size)
        return items


@blp.route("/<uuid:application_id>")
class ApplicationById(MethodView):
    @blp.response(200, ApplicationSchema)
    @blp.applicant_or_staff
    def get(self, application_id: Any) -> Any:
        """Read an application

        Its status, step results, decision, requested information and full history.
        """
        return or_404(queries.application(runtime(), str(application_id)), "Application not found.")


@blp.route("/<uuid:application_id>/information")
class ApplicationInformation(MethodView):
    @blp.applicant_or_staff
    @blp.arguments(INFORMATION)
    @blp.response(200, ApplicationSchema)
    @blp.errors(400, 409, 413, 415, e409="The application is not waiting for information.")
    def post(self, answers: dict[str, Any], application_id: Any) -> Any:
        """Supply requested information

        ``{name: value}`` for each item of ``requested_information``; the evaluation resumes.
        """
        try:
            return commands.supply_information(runtime(), str(application_id), answers)
        except commands.NotFound:
            abort(404, message="Application not found.")
        except (commands.NotWaiting, InvalidTransition):
            abort(409, message="This application is not waiting for information.")
        except commands.InvalidAnswers as invalid:
            abort(422, errors={"json": invalid.errors}, message="Some answers are missing or invalid.")


@blp.route("/<uuid:application_id>/withdraw")
class ApplicationWithdrawal(MethodView):
    @blp.response(200, ApplicationSchema)
    @blp.errors(409, e409="The application has already ended.")
    @blp.applicant_or_staff
    def post(self, application_id: Any) -> Any:
        """Withdraw an application

        Stops the evaluation and cancels the credit inquiry if one was made.
        """
        try:
            return commands.withdraw(runtime(), str(application_id))
        except commands.NotFound:
            abort(404, message="Application not found.")
        except InvalidTransition as error:
            abort(409, message=f"This application has already ended ({error.current}).")


@blp.route("/<uuid:application_id>/erasure")
class ApplicationErasure(MethodView):
    @blp.response(202, ErasureSchema, headers={"Location": {"description": "Where to follow the erasure",
                                                            "schema": {"type": "string"}}})
    @blp.errors(404, 409, e409="The application is still in evaluation: withdraw it first.")
    @blp.staff_only()
    def post(self, application_id: Any) -> Any:
        """Erase an application's personal data (admin)

        Erases loan's copy now (name, e-mail, birth date, address) and asks every other service
        to erase theirs (documents included); status, amounts, decision and history are kept.
        Audited. Only for an ended application; asked again, it erases and asks again.
        """
        rt, key = runtime(), str(application_id)
        try:
            commands.request_erasure(rt, key, current_caller().username)
        except commands.NotFound:
            abort(404, message="Application not found.")
        except NotEnded as running:
            abort(409, message=f"This application is still in evaluation ({running.current}): withdraw it "
                               "first, then ask for the erasure.")
        location = url_for("applications.ApplicationErasure", application_id=key)
        return queries.erasure(rt, key), 202, {"Location": location}

    @blp.response(200, ErasureSchema)
    @blp.errors(404, e404="No erasure was asked for this application (or it does not exist).")
    @blp.staff_only()
    def get(self, application_id: Any) -> Any:
        """Follow an erasure (admin)

        When and why it was asked, and when each service erased its copy.
        """
        return or_404(queries.erasure(runtime(), str(application_id)), "No erasure for this application.")


@blp.route("/<uuid:application_id>/access-token")
class AccessToken(MethodView):
    @rate_limited(blp, "reissue_rate_limit", scope="reissue")
    @blp.arguments(TokenRequestSchema)
    @blp.response(202, TokenRequestAnswerSchema)
    @blp.errors(400, 413, 415)
    def post(self, request_body: dict[str, Any], application_id: Any) -> Any:
        """Ask for a new access token by e-mail (no token needed)

        For an applicant who lost their token, or whose token expired or leaked: if ``email`` is
        the address the application was made with, a new token is e-mailed to it (a link to the
        tracking page) and every earlier token stops working. The answer is the same ``202``
        whether the application exists and the address matches or not, and at most one e-mail
        is sent per ``LOANFLOW_APPLICANT_TOKEN_REISSUE_SECONDS``. One client address may ask
        ``LOANFLOW_REISSUE_RATE_LIMIT`` times per window (``429`` beyond).
        """
        commands.reissue_access(runtime(), str(application_id), request_body["email"])
        return TOKEN_REQUESTED


@blp.route("/<uuid:application_id>/access-token/revoke")
class AccessTokenRevocation(MethodView):
    @blp.response(204)
    @blp.applicant_or_staff
    def post(self, application_id: Any) -> None:
        """Revoke the application's access tokens

        Every token issued so far stops working (``401`` with ``errors.reason`` ``TOKEN_REVOKED``), the
        caller's own included. The applicant, with their token (a token that leaked), or staff.
        A new token can then be asked for by e-mail.
        """
        try:
            commands.revoke_access(runtime(), str(application_id), current_caller().username or "applicant")
        except commands.NotFound:
            abort(404, message="Application not found.")

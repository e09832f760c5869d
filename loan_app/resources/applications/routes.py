"""HTTP views of ``/loan/applications``: translate requests to handler calls, nothing more."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from common.kernel.jsonable import jsonable
from common.web.auth import issue_applicant_token
from common.web.http import documented_errors, require_reader, require_staff, runtime
from loan_app import handlers
from loan_app.adapters import repository
from loan_app.domain.information import check_answers
from loan_app.domain.status import InvalidTransition
from loan_app.resources.applications.schemas import (
    AcceptedSchema,
    ApplicationCreateSchema,
    ApplicationSchema,
    ApplicationSummarySchema,
    InformationSchema,
    ListQuerySchema,
)

blp = Blueprint(
    "applications",
    __name__,
    url_prefix="/loan/applications",
    description="Submit a home-loan application, follow it, answer requests, withdraw.",
)

_AUTH = [{"bearer": []}]


def _language() -> str:
    return request.accept_languages.best_match(["en", "fr"], default="en") or "en"


@blp.route("")
class Applications(MethodView):
    @blp.arguments(ApplicationCreateSchema)
    @blp.response(202, AcceptedSchema, headers={"Location": {"description": "URL of the application",
                                                             "schema": {"type": "string"}}})
    @documented_errors(blp, 400, 413, 415)
    def post(self, data: dict[str, Any]) -> Any:
        """Submit an application

        Validates and stores it, then answers at once; the evaluation runs in the background.
        Keep ``access_token``: it is the only key to this application.
        """
        data = jsonable(data)  # the aggregate stores and sends JSON-simple values
        data["applicant"].setdefault("language", _language())
        rt = runtime()
        application = handlers.submit(rt.uow(), data, rt.settings)
        location = url_for("applications.ApplicationById", application_id=application.id)
        body = {
            "id": application.id,
            "status": application.status,
            "access_token": issue_applicant_token(rt.settings.secret_key, application.id),
            "links": {"self": location, "events": f"/notify/applications/{application.id}/events"},
        }
        return body, 202, {"Location": location}

    @blp.arguments(ListQuerySchema, location="query")
    @blp.response(200, ApplicationSummarySchema(many=True))
    @blp.paginate()
    @documented_errors(blp, 401, 403)
    @blp.doc(security=_AUTH)
    def get(self, args: dict[str, Any], pagination_parameters: Any) -> Any:
        """List applications (staff)

        Newest first; filter by ``status``; paginated (``X-Pagination`` header).
        """
        require_staff()
        with runtime().uow() as uow:
            items, total = repository.page(
                uow.session,
                args.get("status"),
                pagination_parameters.first_item,
                pagination_parameters.page_size,
            )
        pagination_parameters.item_count = total
        return items


@blp.route("/<uuid:application_id>")
class ApplicationById(MethodView):
    @blp.response(200, ApplicationSchema)
    @documented_errors(blp, 401, 404)
    @blp.doc(security=_AUTH)
    def get(self, application_id: Any) -> Any:
        """Read an application

        Its status, step results, decision, requested information and full history.
        """
        application_id = str(application_id)
        require_reader(application_id)
        try:
            return handlers.get(runtime().uow(), application_id)
        except handlers.NotFound:
            abort(404, message="Application not found.")


@blp.route("/<uuid:application_id>/information")
class ApplicationInformation(MethodView):
    @blp.arguments(InformationSchema)
    @blp.response(200, ApplicationSchema)
    @documented_errors(blp, 400, 401, 404, 409, 413, 415,
                       e409="The application is not waiting for information.")
    @blp.doc(security=_AUTH)
    def post(self, answers: dict[str, Any], application_id: Any) -> Any:
        """Supply requested information

        ``{name: value}`` for each item of ``requested_information``; the evaluation resumes.
        """
        application_id = str(application_id)
        require_reader(application_id)
        rt = runtime()
        try:
            requested = handlers.requested_items(rt.uow(), application_id)
        except handlers.NotFound:
            abort(404, message="Application not found.")
        if not requested:
            abort(409, message="This application is not waiting for information.")
        clean, errors = check_answers(requested, answers)
        if errors:
            abort(422, errors={"json": errors}, message="Some answers are missing or invalid.")
        try:
            return handlers.supply_information(rt.uow(), application_id, clean, rt.settings)
        except InvalidTransition:
            abort(409, message="This application is not waiting for information.")


@blp.route("/<uuid:application_id>/withdraw")
class ApplicationWithdrawal(MethodView):
    @blp.response(200, ApplicationSchema)
    @documented_errors(blp, 401, 404, 409, e409="The application has already ended.")
    @blp.doc(security=_AUTH)
    def post(self, application_id: Any) -> Any:
        """Withdraw an application

        Stops the evaluation and cancels the credit inquiry if one was made.
        """
        application_id = str(application_id)
        require_reader(application_id)
        try:
            return handlers.withdraw(runtime().uow(), application_id)
        except handlers.NotFound:
            abort(404, message="Application not found.")
        except InvalidTransition as error:
            abort(409, message=f"This application has already ended ({error.current}).")

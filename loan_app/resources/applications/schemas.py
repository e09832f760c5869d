"""Marshmallow schemas of ``/loan/applications``: validation, serialisation and OpenAPI at once.

Unknown fields are refused (marshmallow's default ``RAISE``), so a client cannot slip in
``status``, ``score`` or ``id`` (mass assignment): it gets a 422 naming the field. The fields
marshmallow has no type for (amounts to the cent, one-line visible text, an adult's birth date)
are in :mod:`loan_app.resources.applications.fields`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from common.web.openapi import NO_NUL
from loan_app.domain.information import MAX_ANSWER_LENGTH
from loan_app.domain.status import Status
from loan_app.resources.applications.fields import (
    MAX_MONEY,
    TwoPlaces,
    adult_birth_date,
    birth_years_pattern,
    money,
    one_line_text,
    positive_money,
)

EMPLOYMENT_STATUSES = ("permanent", "fixed_term", "self_employed", "unemployed", "retired")


class ApplicantSchema(ma.Schema):
    full_name = one_line_text(200)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    birth_date = fields.Date(required=True, validate=adult_birth_date, metadata={
        "pattern": birth_years_pattern(date.today()),
        "description": "The applicant must be 18 to 120 years old."})
    employment_status = fields.String(required=True, validate=validate.OneOf(EMPLOYMENT_STATUSES))
    monthly_income = money(required=True)
    monthly_debts = money(required=True)
    language = fields.String(validate=validate.OneOf(("en", "fr")), metadata={
        "description": "Language of e-mails; defaults from Accept-Language, else English."})


class PropertySchema(ma.Schema):
    address = one_line_text(300)
    # [0-9], not \d: Python's \d also matches Arabic-Indic and other digits, which no French
    # postcode has and which the valuation's department lookup does not know.
    postcode = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{5}$", error="Must be 5 digits."))
    city = one_line_text(100)
    kind = fields.String(required=True, validate=validate.OneOf(("apartment", "house")))
    surface_m2 = TwoPlaces(required=True, validate=validate.Range(min=5, max=10_000))
    price = positive_money(required=True)


class LoanSchema(ma.Schema):
    amount = TwoPlaces(required=True, validate=validate.Range(min=1000, max=MAX_MONEY))
    duration_months = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=12, max=600),
        metadata={"description": "Above the policy maximum (300) the application is rejected, not refused."},
    )


class ApplicationCreateSchema(ma.Schema):
    applicant = fields.Nested(ApplicantSchema, required=True)
    property = fields.Nested(PropertySchema, required=True)
    loan = fields.Nested(LoanSchema, required=True)


class AcceptedSchema(ma.Schema):
    id = fields.String()
    status = fields.String(metadata={"description": "The status stored when the answer is sent: `EVALUATING` (the "
                                                   "evaluation starts in the submission's own transaction)."})
    access_token = fields.String(metadata={"description": "Bearer token for this application only."})
    access_token_expires_at = fields.DateTime(metadata={
        "description": "When the token expires at the latest (LOANFLOW_APPLICANT_TOKEN_MAX_DAYS); sooner once the "
                       "application has ended (LOANFLOW_APPLICANT_TOKEN_DAYS_AFTER_END), or if it is revoked."})
    links = fields.Dict(keys=fields.String(), values=fields.String())


class TokenRequestSchema(ma.Schema):
    """Who asks for a new access token: the applicant's e-mail address, as given in the application."""

    email = fields.Email(required=True, validate=validate.Length(max=254))


class TokenRequestAnswerSchema(ma.Schema):
    message = fields.String(metadata={"description": "The same sentence whatever the id and the address."})


class ReasonSchema(ma.Schema):
    code = fields.String()
    message = fields.String(metadata={"description": "In English; word it from code and params in another language."})
    params = fields.Dict(keys=fields.String(), values=fields.String(),
                         metadata={"description": "The figures the message states (rejections only)."})


class InformationItemSchema(ma.Schema):
    name = fields.String()
    description = fields.String()
    type = fields.String()


class OfferSchema(ma.Schema):
    amount = fields.String()
    duration_months = fields.Integer()
    annual_rate = fields.String(metadata={"description": "Fraction: 0.0355 is 3.55 %."})
    monthly_payment = fields.String()
    monthly_insurance = fields.String()
    total_interest = fields.String(metadata={"description": "Sum of the schedule's interest column."})
    total_cost = fields.String(metadata={"description": "Amount plus total interest."})


class DecisionSchema(ma.Schema):
    outcome = fields.String()
    reasons = fields.List(fields.Nested(ReasonSchema))
    offer = fields.Nested(OfferSchema, allow_none=True)
    policy_version = fields.String()
    inputs = fields.Dict()
    rules = fields.List(fields.Dict())
    referral = fields.List(fields.Dict(), metadata={"description": "The referral bands hit (REFERRED only)."})
    decided_by = fields.String(metadata={"description": "`rules`, or `officers` after a review (the "
                                                        "officers' names and notes are in the audit, not here)."})


class TransitionSchema(ma.Schema):
    seq = fields.Integer()
    from_status = fields.String(allow_none=True)
    status = fields.String(attribute="to_status")
    at = fields.DateTime()
    cause = fields.String()


class ApplicationSchema(ma.Schema):
    id = fields.String()
    status = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    deadline = fields.DateTime(allow_none=True)
    applicant = fields.Dict()
    property = fields.Dict()
    loan = fields.Method("_loan")
    credit = fields.Dict(allow_none=True)
    valuation = fields.Dict(allow_none=True)
    decision = fields.Nested(DecisionSchema, allow_none=True)
    requested_information = fields.Method("_requested")
    failure = fields.Nested(ReasonSchema, allow_none=True)
    compensations = fields.List(fields.Dict())
    review = fields.Method("_review", metadata={"description": "While REFERRED: when the officers' review is "
                                                               "due (working hours) and whether it was escalated."})
    history = fields.List(fields.Nested(TransitionSchema))

    def _loan(self, application: Any) -> dict[str, Any]:
        return {"amount": str(application.amount), "duration_months": application.duration_months}

    def _requested(self, application: Any) -> list[dict[str, Any]]:
        return list(application.requested_information or []) if application.status == "INFO_REQUESTED" else []

    def _review(self, application: Any) -> dict[str, Any] | None:
        review = application.review if application.status == "REFERRED" else None
        return {"due_at": review["due_at"], "escalated": bool(review.get("escalated_at"))} if review else None


class ApplicationSummarySchema(ma.Schema):
    id = fields.String()
    status = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    summary = fields.Method("_summary")
    outcome_reasons = fields.Method("_reasons")

    def _summary(self, application: Any) -> dict[str, Any]:
        return application.summary()

    def _reasons(self, application: Any) -> list[dict[str, Any]]:
        reasons = list((application.decision or {}).get("reasons") or [])
        return reasons + ([application.failure] if application.failure else [])


class ServiceErasureSchema(ma.Schema):
    service = fields.String()
    erased_at = fields.DateTime(allow_none=True, metadata={"description": "Null until the service confirmed."})


class ErasureSchema(ma.Schema):
    application_id = fields.String()
    reason = fields.String(metadata={"description": "`request` (an admin's) or `retention` (the period ended)."})
    requested_at = fields.DateTime()
    requested_by = fields.String(allow_none=True)
    complete = fields.Boolean(metadata={"description": "Every service erased its copy."})
    services = fields.List(fields.Nested(ServiceErasureSchema))
    erased = fields.Method("_erased", metadata={"description": "What is erased in every service."})
    kept = fields.Method("_kept", metadata={"description": "What is kept, for statistics and the audit."})

    def _erased(self, _progress: Any) -> list[str]:
        return list(ERASED)

    def _kept(self, _progress: Any) -> list[str]:
        return list(KEPT)


#: What an erasure removes and what it keeps (docs/privacy.md has the table per service).
ERASED = (
    "the applicant's name, e-mail address and birth date, and the property's address",
    "the repayment schedule documents (PDF, CSV)",
    "these fields in the copies of messages kept by each service (outbox, dead letters) and the "
    "text of recorded errors and tracebacks",
)
KEPT = (
    "status, history and timestamps", "amounts, duration, postcode, city, kind and surface",
    "incomes, debts, credit score, valuation, decision, offer and reasons",
)


class ListQuerySchema(ma.Schema):
    status = fields.String(validate=validate.OneOf([status.value for status in Status]))


#: The items decision_app's policy can ask for today (``requested_information[].name``).
INFORMATION_ITEMS = (
    ("declared_income_year_1", "Net income declared to the tax office for last year (EUR)."),
    ("declared_income_year_2", "Net income declared to the tax office for the year before (EUR)."),
)


class InformationSchema(ma.Schema):
    """``{name: value}`` for the items the application asks for; checked against that list."""

    #: Documented: at least one answer, each a number or a string, named after the items the
    #: policy asks for today. The application's ``requested_information`` is what counts (the
    #: view checks the answers against it and names any other item in a 422), so the document
    #: is never wider than what is accepted: a client or fuzzer reading it sends known names.
    openapi_extra = {"minProperties": 1, "additionalProperties": False, "properties": {
        name: {"anyOf": [{"type": "number", "minimum": 0, "maximum": 100_000_000, "multipleOf": 0.01},
                         {"type": "string", "maxLength": MAX_ANSWER_LENGTH, "pattern": NO_NUL}],
               "description": description}
        for name, description in INFORMATION_ITEMS}}

    class Meta:
        unknown = ma.INCLUDE

    @ma.validates_schema(pass_original=True)
    def _simple_values(self, data: dict[str, Any], original: Any, **kwargs: Any) -> None:
        if not isinstance(original, dict) or not original:
            raise ma.ValidationError("Give at least one answer.", "_schema")
        for key, value in original.items():
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise ma.ValidationError("Must be a number or a string.", key)
            if len(str(key)) > 64 or len(str(value)) > MAX_ANSWER_LENGTH:
                raise ma.ValidationError("Too long.", key)

"""Marshmallow schemas of ``/loan/applications``: validation, serialisation and OpenAPI at once.

Unknown fields are refused (marshmallow's default ``RAISE``), so a client cannot slip in
``status``, ``score`` or ``id`` (mass assignment): it gets a 422 naming the field.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from loan_app.domain.information import MAX_ANSWER_LENGTH

#: Bounds that keep amounts meaningful; beyond them an application is an input error, not a risk.
MAX_MONEY = 100_000_000
EMPLOYMENT_STATUSES = ("permanent", "fixed_term", "self_employed", "unemployed", "retired")


def _money(**kwargs: Any) -> fields.Decimal:
    return fields.Decimal(
        places=2,
        as_string=True,
        validate=validate.Range(min=0, max=MAX_MONEY),
        **kwargs,
    )


def _positive_money(**kwargs: Any) -> fields.Decimal:
    return fields.Decimal(
        places=2,
        as_string=True,
        validate=validate.Range(min=0, min_inclusive=False, max=MAX_MONEY),
        **kwargs,
    )


def _text(max_length: int) -> fields.String:
    return fields.String(required=True, validate=[validate.Length(min=1, max=max_length), _not_blank])


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("Must not be blank.")


def _adult_birth_date(value: date) -> None:
    today = date.today()
    age = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
    if value > today:
        raise ma.ValidationError("Birth date is in the future.")
    if age < 18:
        raise ma.ValidationError("The applicant must be at least 18 years old.")
    if age > 120:
        raise ma.ValidationError("Birth date is implausibly old.")


class ApplicantSchema(ma.Schema):
    full_name = _text(200)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    birth_date = fields.Date(required=True, validate=_adult_birth_date)
    employment_status = fields.String(required=True, validate=validate.OneOf(EMPLOYMENT_STATUSES))
    monthly_income = _money(required=True)
    monthly_debts = _money(required=True)
    language = fields.String(validate=validate.OneOf(("en", "fr")), metadata={
        "description": "Language of e-mails; defaults from Accept-Language, else English."})


class PropertySchema(ma.Schema):
    address = _text(300)
    postcode = fields.String(required=True, validate=validate.Regexp(r"^\d{5}$", error="Must be 5 digits."))
    city = _text(100)
    kind = fields.String(required=True, validate=validate.OneOf(("apartment", "house")))
    surface_m2 = fields.Decimal(
        required=True, places=2, as_string=True, validate=validate.Range(min=5, max=10_000)
    )
    price = _positive_money(required=True)


class LoanSchema(ma.Schema):
    amount = fields.Decimal(
        required=True, places=2, as_string=True, validate=validate.Range(min=1000, max=MAX_MONEY)
    )
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
    status = fields.String()
    access_token = fields.String(metadata={"description": "Bearer token for this application only."})
    links = fields.Dict(keys=fields.String(), values=fields.String())


class ReasonSchema(ma.Schema):
    code = fields.String()
    message = fields.String()


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
    history = fields.List(fields.Nested(TransitionSchema))

    def _loan(self, application: Any) -> dict[str, Any]:
        return {"amount": str(application.amount), "duration_months": application.duration_months}

    def _requested(self, application: Any) -> list[dict[str, Any]]:
        return list(application.requested_information or []) if application.status == "INFO_REQUESTED" else []


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


class ListQuerySchema(ma.Schema):
    status = fields.String(validate=validate.OneOf((
        "SUBMITTED", "EVALUATING", "DECIDING", "INFO_REQUESTED", "APPROVED", "REJECTED", "WITHDRAWN",
        "FAILED", "EXPIRED",
    )))


class InformationSchema(ma.Schema):
    """``{name: value}`` for the items the application asks for; checked against that list."""

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

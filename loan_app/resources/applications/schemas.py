"""Marshmallow schemas of ``/loan/applications``: validation, serialisation and OpenAPI at once.

Unknown fields are refused (marshmallow's default ``RAISE``), so a client cannot slip in
``status``, ``score`` or ``id`` (mass assignment): it gets a 422 naming the field. Amounts are
refused, not rounded, beyond the cent; free text is refused when it carries characters that only
serve to hide or reorder what a reader sees (control characters, bidirectional overrides).
"""

from __future__ import annotations

import calendar
import math
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from common.web.openapi import NO_NUL
from loan_app.domain.information import CENT, MAX_ANSWER_LENGTH, decimal_places

#: Bounds that keep amounts meaningful; beyond them an application is an input error, not a risk.
MAX_MONEY = 100_000_000
EMPLOYMENT_STATUSES = ("permanent", "fixed_term", "self_employed", "unemployed", "retired")


#: Characters refused in names and addresses: C0/C1 controls (NUL, tabs, newlines, escapes: these
#: fields are one line), the bidirectional embeddings, overrides and isolates that make text
#: display in another order than it is stored ("Trojan Source"), and invisible characters that
#: belong to no script's spelling (zero-width space, word joiner, BOM). ZWJ/ZWNJ and the LRM/RLM
#: marks stay allowed: Persian, Indic scripts and mixed-direction names need them.
_HIDDEN = r"\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200b\u2060\ufeff"
_HIDDEN_CHARACTERS = re.compile(f"[{_HIDDEN}]")
#: The same rule, and "not blank", as the OpenAPI ``pattern`` of those fields (the escapes mean
#: the same in Python and ECMAScript regular expressions), so clients can check before sending.
_ONE_LINE_VISIBLE = f"^[^{_HIDDEN}]*[^{_HIDDEN}\\s][^{_HIDDEN}]*$"


class TwoPlaces(fields.Decimal):
    """A decimal with at most two places (euros to the cent, m²), as a JSON number or a string.

    More than two decimal places is refused rather than rounded: 1234.567 is a typo or a unit
    mistake, and rounding it would store an amount nobody entered. ``-0`` is stored as ``0.00``.
    Numbers too large to hold to the cent are left for the range check, which names the bound.

    One exception: a JSON *number* that is a cent amount up to binary floating-point noise
    (``0.1 + 0.2`` is ``0.30000000000000004`` in JavaScript, ``57 * 0.01`` is
    ``0.5700000000000001``) is read as that cent amount — the client meant it and cannot write it
    otherwise; a string is taken literally. Documented as ``multipleOf: 0.01``.
    """

    default_error_messages = {"places": "At most two decimal places."}

    def __init__(self, *, metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        documented = {"type": "number", "multipleOf": 0.01,
                      "description": "A number, or a decimal string; at most two decimals."}
        super().__init__(as_string=True, metadata=documented | (metadata or {}), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        number: Decimal = super()._deserialize(value, attr, data, **kwargs)
        # Float noise of a cent amount is let through and rounded to that cent just below.
        if decimal_places(number) > 2 and not (isinstance(value, float) and _float_noise_of_a_cent(value, number)):
            raise self.make_error("places")
        try:
            number = number.quantize(CENT)
        except InvalidOperation:
            return number
        return number.copy_abs() if number.is_zero() else number


#: How far, relatively, a JSON number may sit from a cent amount and still be read as it: a few
#: units in the last place of a double (~1e-16), far below any digit a person types.
FLOAT_NOISE = 1e-12


def _float_noise_of_a_cent(value: float, number: Decimal) -> bool:
    try:
        cents = number.quantize(CENT)
    except InvalidOperation:  # too many digits to hold to the cent: left for the range check
        return False
    return not cents.is_zero() and math.isclose(value, float(cents), rel_tol=FLOAT_NOISE, abs_tol=0.0)


def _money(**kwargs: Any) -> TwoPlaces:
    return TwoPlaces(validate=validate.Range(min=0, max=MAX_MONEY), **kwargs)


def _positive_money(**kwargs: Any) -> TwoPlaces:
    # To the cent, "more than 0" is "at least 0.01": stated so, a client (or a fuzzer) reading the
    # document does not take 5e-324 for a valid price.
    return TwoPlaces(validate=validate.Range(min=CENT, max=MAX_MONEY), **kwargs)


def _text(max_length: int) -> fields.String:
    return fields.String(required=True, validate=[validate.Length(min=1, max=max_length), _not_blank, _visible],
                         metadata={"pattern": _ONE_LINE_VISIBLE})


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("Must not be blank.")


def _visible(value: str) -> None:
    if _HIDDEN_CHARACTERS.search(value):
        raise ma.ValidationError("Must not contain control characters, direction overrides or invisible spaces.")


def birth_years_pattern(today: date) -> str:
    """An OpenAPI ``pattern`` matching exactly the calendar dates of the years in which
    :func:`_adult_birth_date` refuses no day (1907 to 2007, in 2026).

    JSON Schema cannot bound a date; without a pattern the document called 0154-05-01 valid. The
    pattern spells whole dates, month lengths and leap days included, rather than a year prefix:
    a fuzzer that draws from a prefix pattern appends random text that is almost never a date,
    and gives up on the operation as "too much filtered". A day in the edge years may still be
    accepted: the pattern is narrower than the rule, never wider.
    """
    first, last = today.year - 119, today.year - 19
    decades = []
    for decade in range(first // 10, last // 10 + 1):
        low, high = max(first, decade * 10) % 10, min(last, decade * 10 + 9) % 10
        decades.append(f"{decade}[0-9]" if (low, high) == (0, 9) else f"{decade}[{low}-{high}]")
    leap = [str(year) for year in range(first, last + 1) if calendar.isleap(year)]
    days = ("(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
            "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
            "|02-(?:0[1-9]|1[0-9]|2[0-8])")
    return f"^(?:(?:{'|'.join(decades)})-(?:{days})|(?:{'|'.join(leap)})-02-29)$"


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
    birth_date = fields.Date(required=True, validate=_adult_birth_date, metadata={
        "pattern": birth_years_pattern(date.today()),
        "description": "The applicant must be 18 to 120 years old."})
    employment_status = fields.String(required=True, validate=validate.OneOf(EMPLOYMENT_STATUSES))
    monthly_income = _money(required=True)
    monthly_debts = _money(required=True)
    language = fields.String(validate=validate.OneOf(("en", "fr")), metadata={
        "description": "Language of e-mails; defaults from Accept-Language, else English."})


class PropertySchema(ma.Schema):
    address = _text(300)
    # [0-9], not \d: Python's \d also matches Arabic-Indic and other digits, which no French
    # postcode has and which the valuation's department lookup does not know.
    postcode = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{5}$", error="Must be 5 digits."))
    city = _text(100)
    kind = fields.String(required=True, validate=validate.OneOf(("apartment", "house")))
    surface_m2 = TwoPlaces(required=True, validate=validate.Range(min=5, max=10_000))
    price = _positive_money(required=True)


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
    status = fields.String()
    access_token = fields.String(metadata={"description": "Bearer token for this application only."})
    links = fields.Dict(keys=fields.String(), values=fields.String())


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

"""What ``/decision/policies`` takes and answers.

Every threshold is checked here, type and range, and the OpenAPI document states each rule
exactly (a pattern for decimal strings, bounds for integers), so that a client — or a fuzzer —
that sends what the document calls valid is never refused for its shape. Ratios and rates are
decimal *strings* (as they are stored and shown: never a binary float), to 4 decimals at most.
Whether the thresholds hold together once merged with the policy in force (a band inside its
limit, a rate for every admitted duration) depends on that policy, so it is checked by
decision_app.domain.thresholds after parsing (409 ``POLICY_INCONSISTENT``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from decision_app.domain.thresholds import VERSION
from decision_app.policies import SHADOW_DEFAULT, SHADOW_MAX

#: A ratio in (0, 2], to 4 decimals: "0.35", "1", "1.0000", "2".
RATIO = r"^(0\.([1-9][0-9]{0,3}|0[1-9][0-9]{0,2}|00[1-9][0-9]?|000[1-9])|1(\.[0-9]{1,4})?|2(\.0{1,4})?)$"
#: An annual rate in [0, 1), to 4 decimals: "0.0355", "0".
RATE = r"^0(\.[0-9]{1,4})?$"
#: The credit score's scale (credit_app.domain.scoring).
SCORE_MIN, SCORE_MAX = 300, 850
#: The durations an application may ask for (loan_app), hence a policy may admit or price.
MONTHS_MIN, MONTHS_MAX = 12, 600
MAX_BRACKETS = 12
MAX_NOTE = 500


class DecimalText(fields.String):
    """A decimal given as a string matching ``pattern``, loaded as a ``Decimal``."""

    default_error_messages = {"pattern": "A decimal string matching {pattern}."}

    def __init__(self, pattern: str, description: str, **kwargs: Any) -> None:
        self.pattern = re.compile(pattern)
        super().__init__(metadata={"pattern": pattern, "description": description}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        if not self.pattern.fullmatch(text):  # fullmatch: "0.35\n" matches `$` in Python, not in JSON Schema
            raise self.make_error("pattern", pattern=self.pattern.pattern)
        return Decimal(text)


class StrictInteger(fields.Integer):
    """An integer that is a JSON integer: not ``true`` (Python's ``True`` is an ``int``), not 1.0."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        result: int = super()._validated(value)
        return result


class StrictBoolean(fields.Boolean):
    """``true`` or ``false``, not the strings and numbers marshmallow's Boolean also takes."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def _ratio(description: str) -> DecimalText:
    return DecimalText(RATIO, f"{description} A ratio in (0, 2], to 4 decimals, as a string.")


def _rate(description: str, **kwargs: Any) -> DecimalText:
    return DecimalText(RATE, f"{description} A rate in [0, 1), to 4 decimals, as a string.", **kwargs)


class RateBracketSchema(ma.Schema):
    up_to_months = StrictInteger(required=True, validate=validate.Range(min=1, max=MONTHS_MAX),
                                 metadata={"description": "The longest duration of the bracket."})
    annual_rate = _rate("The rate of the bracket.", required=True)


class ThresholdChangesSchema(ma.Schema):
    """The thresholds to change from the policy in force; each optional."""

    max_debt_to_income = _ratio("Repayments (with insurance) over income, at most.")
    max_duration_months = StrictInteger(validate=validate.Range(min=MONTHS_MIN, max=MONTHS_MAX))
    max_loan_to_value = _ratio("Loan over the property's estimated value, at most.")
    min_credit_score = StrictInteger(validate=validate.Range(min=SCORE_MIN, max=SCORE_MAX))
    refer_debt_to_income_from = _ratio("Referred from this debt-to-income (inclusive) to the maximum.")
    refer_loan_to_value_above = _ratio("Referred above this loan-to-value (exclusive) to the maximum.")
    refer_credit_score_margin = StrictInteger(
        validate=validate.Range(min=0, max=SCORE_MAX - SCORE_MIN),
        metadata={"description": "Referred when the score is less than this many points above the minimum "
                                 "(0: never)."})
    rate_grid = fields.List(fields.Nested(RateBracketSchema), validate=validate.Length(min=1, max=MAX_BRACKETS),
                            metadata={"description": "Brackets in increasing up_to_months; the last one must "
                                                     "reach max_duration_months. Replaces the whole grid."})
    insurance_rate = _rate("Borrower insurance, annual, on the initial capital.")
    info_for_self_employed = StrictBoolean(metadata={"description": "Ask the self-employed for two declared "
                                                                    "incomes."})


def _version(name: str) -> None:
    if not VERSION.fullmatch(name):
        raise ma.ValidationError("1 to 32 characters: letters, digits, '.', '_' or '-'.")


class PolicyCreateSchema(ma.Schema):
    version = fields.String(required=True, validate=_version,
                            metadata={"pattern": VERSION.pattern,
                                      "description": "Recorded with every decision made under it."})
    thresholds = fields.Nested(ThresholdChangesSchema, load_default=dict,
                               metadata={"description": "What changes from the policy in force."})
    note = fields.String(load_default="", validate=validate.Length(max=MAX_NOTE))


class ShadowRequestSchema(ma.Schema):
    limit = StrictInteger(load_default=SHADOW_DEFAULT, validate=validate.Range(min=1, max=SHADOW_MAX),
                          metadata={"description": "How many of the most recent decisions to decide again."})
    since = fields.AwareDateTime(load_default=None, allow_none=True,
                                 metadata={"description": "Only decisions made since then."})


class RateBracketOutSchema(ma.Schema):
    up_to_months = fields.Integer()
    annual_rate = fields.String()


class ThresholdsSchema(ma.Schema):
    max_debt_to_income = fields.String()
    max_duration_months = fields.Integer()
    max_loan_to_value = fields.String()
    min_credit_score = fields.Integer()
    refer_debt_to_income_from = fields.String()
    refer_loan_to_value_above = fields.String()
    refer_credit_score_margin = fields.Integer()
    rate_grid = fields.List(fields.Nested(RateBracketOutSchema))
    insurance_rate = fields.String()
    info_for_self_employed = fields.Boolean()


class PolicyVersionSchema(ma.Schema):
    version = fields.String()
    status = fields.String(metadata={"enum": ["draft", "published", "retired"]})
    active = fields.Boolean(metadata={"description": "The version in force."})
    thresholds = fields.Nested(ThresholdsSchema)
    note = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime(allow_none=True, metadata={"description": "None for the built-in version."})
    published_by = fields.String(allow_none=True)
    published_at = fields.DateTime(allow_none=True, metadata={"description": "When it was last published."})


class ShadowChangeSchema(ma.Schema):
    application_id = fields.String()
    round = fields.Integer()
    decided_at = fields.DateTime()
    policy_version = fields.String(metadata={"description": "The version the decision applied then."})
    from_ = fields.String(data_key="from", attribute="from")
    to = fields.String()
    reasons = fields.List(fields.String(), metadata={"description": "Reason codes of the new outcome."})


class ShadowReportSchema(ma.Schema):
    version = fields.String()
    decisions = fields.Integer(metadata={"description": "Decisions decided again."})
    unchanged = fields.Integer()
    skipped = fields.Integer(metadata={"description": "Decisions without stored facts (made before they were kept)."})
    changed = fields.List(fields.Nested(ShadowChangeSchema))
    transitions = fields.Dict(keys=fields.String(), values=fields.Integer(),
                              metadata={"description": "How many went from an outcome to another: "
                                                       "{\"APPROVED→REFERRED\": 3}."})

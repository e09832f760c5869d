"""The lending policy: approve with an offer, reject with reasons, refer a borderline case to the
officers, or ask for more information.

Every rule is evaluated (no short circuit), so a rejection lists every reason at once, and the
decision records its inputs, each rule's result and the policy version: a decision explains
itself to the applicant, the officer and the auditor alike.

Borderline cases (issue 15, "Officers decide the hard cases") pass every rule but sit in a band
just inside a limit (:mod:`decision_app.domain.referral`): they are ``REFERRED`` with the offer
they would get, and two officers decide them (:mod:`decision_app.domain.officers`).

The thresholds and facts (:mod:`decision_app.domain.facts`) and the explained decision
(:mod:`decision_app.domain.explained`) live in modules of their own; they are imported here, so
``from decision_app.domain.policy import PolicyConfig, Decision, …`` goes on working.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from decision_app.domain.explained import (
    OFFICERS,
    RULES,
    Decision,
    InformationRequest,
    Reason,
    RuleResult,
    percent,
)
from decision_app.domain.facts import CreditFacts, LoanRequest, PolicyConfig, PropertyFacts
from decision_app.domain.referral import referral_bands
from lending.amortization import Offer, loan_cost, to_cents, to_ratio

__all__ = ["OFFICERS", "RULES", "SELF_EMPLOYED_ITEMS", "CreditFacts", "Decision", "InformationRequest", "LoanRequest",
           "Offer", "PolicyConfig", "PropertyFacts", "Reason", "RuleResult", "decide", "validate_information"]

SELF_EMPLOYED_ITEMS: tuple[tuple[str, str], ...] = (
    ("declared_income_year_1", "Net income declared to the tax office for last year (EUR)."),
    ("declared_income_year_2", "Net income declared to the tax office for the year before (EUR)."),
)


def decimal_or_none(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def validate_information(requested: Sequence[InformationRequest | str], supplied: Mapping[str, Any]
                         ) -> dict[str, str]:
    """Field errors of supplied answers (missing, not a non-negative amount, not requested).

    ``requested`` is the decision's ``requested_information`` or just the item names; an empty
    result means the answers are acceptable (the HTTP layer answers 422 with the errors otherwise).
    """
    names = [item.name if isinstance(item, InformationRequest) else item for item in requested]
    errors = {str(key): "This information was not requested." for key in supplied if key not in names}
    for name in names:
        number = decimal_or_none(supplied.get(name)) if name in supplied else None
        if name not in supplied:
            errors[name] = "Missing data for required field."
        elif number is None or number < 0:
            errors[name] = "Must be a non-negative amount in euros."
    return errors


def _income_used(request: LoanRequest, credit: CreditFacts, information: Mapping[str, Any] | None
                 ) -> Decimal | None:
    """Monthly income the policy counts; None while a self-employed income is unverified.

    For the self-employed, lenders use the mean of the last two declared years, not a
    declaration of monthly income.
    """
    if request.employment_status != "self_employed":
        return credit.monthly_income
    names = [name for name, _ in SELF_EMPLOYED_ITEMS]
    answers = {name: information[name] for name in names if information and name in information}
    if answers and not validate_information(names, answers):
        total = sum((Decimal(str(answers[name])) for name in names), Decimal(0))
        return to_cents(total / len(names) / 12)
    return None


#: Debt-to-income reported when no income is counted (instead of a division by zero).
NO_INCOME_DTI = Decimal("9.9999")


def _debt_to_income(monthly: Decimal, income: Decimal) -> tuple[Decimal, Decimal]:
    """(exact ratio, ratio to 4 decimals): rules compare the exact one, so 35.004 % fails at 35 %."""
    if income <= 0:
        return NO_INCOME_DTI, NO_INCOME_DTI
    ratio = monthly / income
    return ratio, min(NO_INCOME_DTI, to_ratio(ratio))


def _hard_rules(request: LoanRequest, credit: CreditFacts, estate: PropertyFacts, config: PolicyConfig
                ) -> list[tuple[RuleResult, Reason]]:
    """The rules that do not depend on the income counted."""
    months, limit = request.duration_months, config.max_duration_months
    ltv_limit = to_cents(config.max_loan_to_value * estate.estimated_value)
    ltv_text = ("the estimated value of the property" if config.max_loan_to_value == 1
                else f"{percent(config.max_loan_to_value)} of the estimated value of the property")
    return [
        (RuleResult("duration", months <= limit, str(months), str(limit)),
         Reason("DURATION_TOO_LONG", f"A loan over {months} months is longer than our maximum of "
                f"{limit} months ({limit // 12} years).",
                {"duration_months": str(months), "max_duration_months": str(limit)})),
        (RuleResult("loan_to_value", request.amount <= ltv_limit, str(estate.loan_to_value),
                    str(config.max_loan_to_value)),
         Reason("LOAN_TO_VALUE_TOO_HIGH", f"The loan ({request.amount} €) is more than {ltv_text} "
                f"({estate.estimated_value} €).",
                {"amount": str(request.amount), "estimated_value": str(estate.estimated_value),
                 "max_loan_to_value": str(config.max_loan_to_value)})),
        (RuleResult("payment_incidents", credit.payment_incidents == 0, str(credit.payment_incidents), "0"),
         Reason("PAYMENT_INCIDENT", "The credit bureau records a payment incident in your name.",
                {"payment_incidents": str(credit.payment_incidents)})),
        (RuleResult("credit_score", credit.score >= config.min_credit_score, str(credit.score),
                    str(config.min_credit_score)),
         Reason("CREDIT_SCORE_TOO_LOW", f"Your credit score ({credit.score}) is below our minimum of "
                f"{config.min_credit_score}.",
                {"credit_score": str(credit.score), "min_credit_score": str(config.min_credit_score)})),
    ]


def _dti_rule(monthly: Decimal, income: Decimal, config: PolicyConfig
              ) -> tuple[RuleResult, Reason, Decimal, Decimal]:
    """(rule result, its reason, the exact ratio, the ratio shown to 4 decimals)."""
    exact, shown = _debt_to_income(monthly, income)
    limit = config.max_debt_to_income
    result = RuleResult("debt_to_income", exact <= limit, str(shown), str(limit))
    reason = Reason("DEBT_TO_INCOME_TOO_HIGH", f"Your monthly repayments would be {percent(shown)} of your "
                    f"income; the maximum is {percent(limit)}.",
                    {"debt_to_income": str(shown), "max_debt_to_income": str(limit)})
    return result, reason, exact, shown


def decide(
    request: LoanRequest,
    credit: CreditFacts,
    property: PropertyFacts,
    information: Mapping[str, Any] | None = None,
    config: PolicyConfig = PolicyConfig(),
    *,
    refer: bool = True,
) -> Decision:
    """Apply the policy to an evaluated application.

    A self-employed applicant without two declared years is asked for them (INFO_REQUESTED)
    unless a rule that does not depend on income already rejects the application. A case that
    passes every rule with a known income but lies in a referral band is ``REFERRED``, with the
    offer it would get; ``refer=False`` (the officers' decision) leaves the bands out.
    """
    rate = config.rate_for(request.duration_months)
    cost = loan_cost(request.amount, rate, request.duration_months)
    insurance = to_cents(request.amount * config.insurance_rate / 12)
    income = _income_used(request, credit, information)
    if income is None and not config.info_for_self_employed:
        income = credit.monthly_income
    checks = _hard_rules(request, credit, property, config)
    dti: Decimal | None = None
    exact_dti = NO_INCOME_DTI
    if income is not None:
        monthly = credit.monthly_debts + cost.monthly_payment + insurance
        result, reason, exact_dti, dti = _dti_rule(monthly, income, config)
        checks.append((result, reason))
    reasons = tuple(reason for result, reason in checks if not result.passed)
    inputs = {
        "credit_score": str(credit.score),
        "loan_to_value": str(property.loan_to_value),
        "debt_to_income": str(dti) if dti is not None else "unknown",
        "monthly_income_used": str(income) if income is not None else "unverified",
        "annual_rate": str(rate),
    }
    common: dict[str, Any] = {"inputs": inputs, "rules": tuple(result for result, _ in checks),
                              "policy_version": config.version}
    if reasons:
        return Decision("REJECTED", reasons=reasons, **common)
    if income is None:
        items = tuple(InformationRequest(name, text) for name, text in SELF_EMPLOYED_ITEMS)
        return Decision("INFO_REQUESTED", requested_information=items, **common)
    offer = Offer(request.amount, request.duration_months, rate, cost.monthly_payment, insurance,
                  cost.total_interest, cost.total_cost)
    shown = dti if dti is not None else NO_INCOME_DTI
    bands = referral_bands(credit, property, (exact_dti, shown), config) if refer else []
    if bands:
        return Decision("REFERRED", reasons=tuple(reason for _, reason in bands), offer=offer,
                        referral=tuple(band for band, _ in bands), **common)
    return Decision("APPROVED", offer=offer, **common)

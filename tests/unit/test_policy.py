"""The lending policy: every reason code, boundaries, the offer, the information loop."""

from __future__ import annotations

from decimal import Decimal

from decision_app.domain.policy import (
    CreditFacts,
    LoanRequest,
    PolicyConfig,
    PropertyFacts,
    decide,
    validate_information,
)

CONFIG = PolicyConfig()


def request(**changes: object) -> LoanRequest:
    base = {"amount": Decimal("200000"), "duration_months": 240, "employment_status": "permanent",
            "monthly_income": Decimal("5200"), "monthly_debts": Decimal("0")}
    return LoanRequest(**{**base, **changes})  # type: ignore[arg-type]


def credit(**changes: object) -> CreditFacts:
    base = {"score": 720, "payment_incidents": 0, "monthly_debts": Decimal("0"),
            "monthly_income": Decimal("5200")}
    return CreditFacts(**{**base, **changes})  # type: ignore[arg-type]


PROPERTY = PropertyFacts(estimated_value=Decimal("375000"), loan_to_value=Decimal("0.5333"))


def codes(decision: object) -> set[str]:
    return {reason.code for reason in decision.reasons}  # type: ignore[attr-defined]


def test_approval_carries_an_exact_offer() -> None:
    decision = decide(request(), credit(), PROPERTY)
    assert decision.outcome == "APPROVED"
    offer = decision.offer
    assert offer is not None
    assert offer.annual_rate == Decimal("0.0355")
    assert offer.monthly_payment == Decimal("1165.06")
    assert offer.monthly_insurance == Decimal("50.00")
    assert offer.total_cost == Decimal("200000") + offer.total_interest
    assert decision.inputs["debt_to_income"] == "0.2337"
    assert all(rule.passed for rule in decision.rules) and len(decision.rules) == 5
    assert decision.to_dict()["offer"]["monthly_payment"] == "1165.06"


def test_each_reason_alone() -> None:
    low_income = credit(monthly_income=Decimal("2000"))
    assert codes(decide(request(), low_income, PROPERTY)) == {"DEBT_TO_INCOME_TOO_HIGH"}
    assert codes(decide(request(duration_months=301), credit(), PROPERTY)) == {"DURATION_TOO_LONG"}
    low_value = PropertyFacts(estimated_value=Decimal("150000"), loan_to_value=Decimal("1.3333"))
    assert codes(decide(request(), credit(), low_value)) == {"LOAN_TO_VALUE_TOO_HIGH"}
    assert codes(decide(request(), credit(payment_incidents=1), PROPERTY)) == {"PAYMENT_INCIDENT"}
    assert codes(decide(request(), credit(score=599), PROPERTY)) == {"CREDIT_SCORE_TOO_LOW"}


def test_all_failed_rules_are_reported_with_readable_sentences() -> None:
    decision = decide(request(duration_months=360), credit(score=400, payment_incidents=2,
                                                           monthly_income=Decimal("900")), PROPERTY)
    assert codes(decision) == {"DURATION_TOO_LONG", "PAYMENT_INCIDENT", "CREDIT_SCORE_TOO_LOW",
                               "DEBT_TO_INCOME_TOO_HIGH"}
    assert all(len(reason.message) > 20 for reason in decision.reasons)
    assert decision.offer is None


def test_boundaries_pass_the_rules_and_are_referred() -> None:
    """A case exactly at a limit passes its rule; it lies in that limit's referral band."""
    high_income = credit(monthly_income=Decimal("10000"))
    assert decide(request(duration_months=300), high_income, PROPERTY).outcome == "APPROVED"
    exact = PropertyFacts(estimated_value=Decimal("200000"), loan_to_value=Decimal("1.0000"))
    at_ltv = decide(request(), credit(), exact)
    assert at_ltv.outcome == "REFERRED" and codes(at_ltv) == {"LOAN_TO_VALUE_NEAR_LIMIT"}
    assert all(rule.passed for rule in at_ltv.rules)
    at_score = decide(request(), credit(score=600), PROPERTY)
    assert at_score.outcome == "REFERRED" and codes(at_score) == {"CREDIT_SCORE_NEAR_MINIMUM"}
    # Income at which repayments (1165.06 + 50.00 insurance) are exactly 35 %: 3471.60.
    at_limit = decide(request(), credit(monthly_income=Decimal("3471.60")), PROPERTY)
    assert at_limit.inputs["debt_to_income"] == "0.3500" and codes(at_limit) == {"DEBT_TO_INCOME_NEAR_LIMIT"}
    assert at_limit.outcome == "REFERRED"
    above = decide(request(), credit(monthly_income=Decimal("3470")), PROPERTY)
    assert codes(above) == {"DEBT_TO_INCOME_TOO_HIGH"}


def test_self_employed_are_asked_then_decided_on_declared_income() -> None:
    self_employed = request(employment_status="self_employed")
    asked = decide(self_employed, credit(), PROPERTY)
    assert asked.outcome == "INFO_REQUESTED"
    assert [item.name for item in asked.requested_information] == ["declared_income_year_1",
                                                                   "declared_income_year_2"]
    answers = {"declared_income_year_1": "66000", "declared_income_year_2": "58800"}
    approved = decide(self_employed, credit(), PROPERTY, information=answers)
    assert approved.outcome == "APPROVED"
    assert approved.inputs["monthly_income_used"] == "5200.00"
    low = decide(self_employed, credit(), PROPERTY, information={"declared_income_year_1": "20000",
                                                                  "declared_income_year_2": "20000"})
    assert codes(low) == {"DEBT_TO_INCOME_TOO_HIGH"}


def test_self_employed_with_a_hard_rejection_are_not_asked() -> None:
    decision = decide(request(employment_status="self_employed"), credit(payment_incidents=1), PROPERTY)
    assert decision.outcome == "REJECTED" and codes(decision) == {"PAYMENT_INCIDENT"}


def test_information_validation() -> None:
    names = ["declared_income_year_1", "declared_income_year_2"]
    assert validate_information(names, {"declared_income_year_1": "1", "declared_income_year_2": "2"}) == {}
    errors = validate_information(names, {"declared_income_year_1": "-1", "other": "x"})
    assert set(errors) == {"declared_income_year_1", "declared_income_year_2", "other"}


def test_rate_grid() -> None:
    assert [CONFIG.rate_for(m) for m in (60, 120, 121, 240, 300, 400)] == [
        Decimal("0.0320"), Decimal("0.0320"), Decimal("0.0340"), Decimal("0.0355"), Decimal("0.0370"),
        Decimal("0.0370"),
    ]

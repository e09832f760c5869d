"""The lending policy in detail: exact boundaries, messages, the offer's round trip, answers' errors."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from decision_app.domain.policy import (
    CreditFacts,
    Decision,
    InformationRequest,
    LoanRequest,
    Offer,
    PolicyConfig,
    PropertyFacts,
    decide,
    validate_information,
)
from lending.amortization import loan_cost

D = Decimal
PROPERTY = PropertyFacts(estimated_value=D("375000"), loan_to_value=D("0.5333"))
ANSWERS = {"declared_income_year_1": "66000", "declared_income_year_2": "58800"}
NAMES = ["declared_income_year_1", "declared_income_year_2"]


def request(status: str = "permanent", amount: str = "200000", months: int = 240) -> LoanRequest:
    return LoanRequest(D(amount), months, status, D("5200"), D("0"))


def credit(income: str = "5200", score: int = 720, incidents: int = 0, debts: str = "0") -> CreditFacts:
    return CreditFacts(
        score=score, payment_incidents=incidents, monthly_debts=D(debts), monthly_income=D(income)
    )


def codes(decision: Decision) -> list[str]:
    return [reason.code for reason in decision.reasons]


def test_offer_is_the_loan_cost_plus_insurance() -> None:
    offer = decide(request(), credit(), PROPERTY).offer
    cost = loan_cost(D("200000"), D("0.0355"), 240)
    assert offer == Offer(
        D("200000"), 240, D("0.0355"), cost.monthly_payment, D("50.00"), cost.total_interest, cost.total_cost
    )


def test_offer_round_trips_through_json() -> None:
    offer = decide(request(), credit(), PROPERTY).offer
    assert offer is not None
    assert Offer.from_dict(json.loads(json.dumps(offer.to_dict()))) == offer
    assert offer.to_dict()["annual_rate"] == "0.0355"


def test_decision_to_dict_is_json_simple() -> None:
    data = json.loads(json.dumps(decide(request(), credit(), PROPERTY).to_dict()))
    assert data["outcome"] == "APPROVED" and data["policy_version"] == "2026.12"
    assert (data["referral"], data["decided_by"], data["review"]) == ([], "rules", None)
    assert data["rules"][0] == {"rule": "duration", "passed": True, "value": "240", "threshold": "300"}
    assert set(data["inputs"]) == {
        "credit_score",
        "loan_to_value",
        "debt_to_income",
        "monthly_income_used",
        "annual_rate",
    }


def test_dti_counts_existing_debts_and_insurance() -> None:
    decision = decide(request(), credit(debts="600"), PROPERTY)
    # (600 + 1165.06 + 50.00) / 5200 = 0.34905 → 0.3491: within the limit, in its referral band
    assert decision.inputs["debt_to_income"] == "0.3491" and decision.outcome == "REFERRED"
    lower = decide(request(), credit(debts="400"), PROPERTY)  # 1615.06 / 5200 = 0.3106
    assert lower.inputs["debt_to_income"] == "0.3106" and lower.outcome == "APPROVED"


def test_dti_just_above_the_limit_fails_even_when_it_rounds_to_the_limit() -> None:
    # 1215.06 / 3471.20 = 0.350040… shows as 0.3500 but is above 35 %
    decision = decide(request(), credit(income="3471.20"), PROPERTY)
    assert decision.inputs["debt_to_income"] == "0.3500" and codes(decision) == ["DEBT_TO_INCOME_TOO_HIGH"]


def test_messages_state_the_figures() -> None:
    decision = decide(request(), credit(income="2949.17"), PROPERTY)  # 1215.06 / 2949.17 = 41.2 %
    assert decision.reasons[0].message == (
        "Your monthly repayments would be 41.2 % of your income; the maximum is 35 %."
    )
    low = decide(request(), credit(score=580), PROPERTY)
    assert "580" in low.reasons[0].message and "600" in low.reasons[0].message
    long = decide(request(months=360), credit(income="20000"), PROPERTY)
    assert "360" in long.reasons[0].message and "300" in long.reasons[0].message


def test_reasons_publish_the_figures_they_state() -> None:
    """Other languages word a reason from its code and these figures (notify's French e-mails)."""
    decision = decide(request(), credit(income="2949.17"), PROPERTY)
    assert decision.to_dict()["reasons"][0]["params"] == {"debt_to_income": "0.4120", "max_debt_to_income": "0.35"}
    low = decide(request(), credit(score=580), PROPERTY)
    assert low.reasons[0].params == {"credit_score": "580", "min_credit_score": "600"}
    long = decide(request(months=360), credit(income="20000"), PROPERTY)
    assert long.reasons[0].params == {"duration_months": "360", "max_duration_months": "300"}


def test_loan_to_value_boundary_is_to_the_cent() -> None:
    at = PropertyFacts(estimated_value=D("200000.00"), loan_to_value=D("1.0000"))
    assert decide(request(amount="200000.00"), credit(), at).outcome == "REFERRED"  # passes, in the band
    assert codes(decide(request(amount="200000.01"), credit(), at)) == ["LOAN_TO_VALUE_TOO_HIGH"]
    stricter = PolicyConfig(max_loan_to_value=D("0.80"))
    decision = decide(request(), credit(), at, config=stricter)
    assert codes(decision) == ["LOAN_TO_VALUE_TOO_HIGH"] and "80 %" in decision.reasons[0].message


def test_every_rule_is_reported_even_when_all_fail() -> None:
    bad = PropertyFacts(estimated_value=D("100000"), loan_to_value=D("2.0000"))
    decision = decide(request(months=360), credit(income="1000", score=300, incidents=3), bad)
    assert codes(decision) == [
        "DURATION_TOO_LONG",
        "LOAN_TO_VALUE_TOO_HIGH",
        "PAYMENT_INCIDENT",
        "CREDIT_SCORE_TOO_LOW",
        "DEBT_TO_INCOME_TOO_HIGH",
    ]
    assert [rule.passed for rule in decision.rules] == [False] * 5
    assert decision.offer is None and decision.requested_information == ()


def test_beyond_the_grid_the_last_rate_is_used_for_the_dti() -> None:
    assert decide(request(months=360), credit(), PROPERTY).inputs["annual_rate"] == "0.0370"


def test_no_income_gives_the_sentinel_dti() -> None:
    decision = decide(request(), credit(income="0"), PROPERTY)
    assert decision.inputs["debt_to_income"] == "9.9999" and codes(decision) == ["DEBT_TO_INCOME_TOO_HIGH"]


def test_information_request_is_explained() -> None:
    decision = decide(request("self_employed"), credit(), PROPERTY)
    assert decision.outcome == "INFO_REQUESTED" and decision.offer is None
    assert decision.requested_information[0] == InformationRequest(
        "declared_income_year_1", "Net income declared to the tax office for last year (EUR).", "decimal"
    )
    assert decision.inputs["monthly_income_used"] == "unverified"
    assert "debt_to_income" not in [rule.rule for rule in decision.rules]


@pytest.mark.parametrize(
    "answers",
    [{}, {"declared_income_year_1": "50000"}, {"declared_income_year_1": "x", "declared_income_year_2": "1"}],
)
def test_incomplete_or_invalid_answers_ask_again(answers: dict[str, str]) -> None:
    assert (
        decide(request("self_employed"), credit(), PROPERTY, information=answers).outcome == "INFO_REQUESTED"
    )


@pytest.mark.parametrize(
    ("credit_facts", "estate", "months", "code"),
    [
        (credit(incidents=1), PROPERTY, 240, "PAYMENT_INCIDENT"),
        (credit(), PROPERTY, 301, "DURATION_TOO_LONG"),
        (credit(), PropertyFacts(D("100000"), D("2.0000")), 240, "LOAN_TO_VALUE_TOO_HIGH"),
        (credit(score=500), PROPERTY, 240, "CREDIT_SCORE_TOO_LOW"),
    ],
)
def test_self_employed_are_rejected_without_asking_when_income_cannot_help(
    credit_facts: CreditFacts, estate: PropertyFacts, months: int, code: str
) -> None:
    decision = decide(request("self_employed", months=months), credit_facts, estate)
    assert decision.outcome == "REJECTED" and codes(decision) == [code]


def test_self_employed_income_is_the_mean_of_two_years() -> None:
    decision = decide(request("self_employed"), credit(income="100"), PROPERTY, information=ANSWERS)
    assert decision.inputs["monthly_income_used"] == "5200.00" and decision.outcome == "APPROVED"


def test_self_employed_are_not_asked_when_the_policy_says_so() -> None:
    config = PolicyConfig(info_for_self_employed=False)
    decision = decide(request("self_employed"), credit(), PROPERTY, config=config)
    assert decision.outcome == "APPROVED" and decision.inputs["monthly_income_used"] == "5200"


def test_answers_are_ignored_for_employees() -> None:
    decision = decide(request(), credit(), PROPERTY, information={"declared_income_year_1": "1"})
    assert decision.inputs["monthly_income_used"] == "5200"


def test_validate_information_accepts_requests_or_names() -> None:
    items = decide(request("self_employed"), credit(), PROPERTY).requested_information
    for requested in (items, NAMES):
        assert validate_information(requested, ANSWERS) == {}
        assert validate_information(requested, {**ANSWERS, "declared_income_year_2": "0"}) == {}


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("-1", "Must be a non-negative amount in euros."),
        ("abc", "Must be a non-negative amount in euros."),
        ("NaN", "Must be a non-negative amount in euros."),
        ("Infinity", "Must be a non-negative amount in euros."),
        (None, "Must be a non-negative amount in euros."),
    ],
)
def test_validate_information_field_errors(value: object, error: str) -> None:
    assert validate_information(NAMES, {**ANSWERS, "declared_income_year_2": value}) == {
        "declared_income_year_2": error
    }


def test_validate_information_missing_and_unknown() -> None:
    assert validate_information(NAMES, {"declared_income_year_1": 1, "salary": "2"}) == {
        "salary": "This information was not requested.",
        "declared_income_year_2": "Missing data for required field.",
    }

"""Borderline cases go to the officers (issue 15): the referral bands at each edge, and the
officers' decision under the policy's limits (the offer recomputed to the cent)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from decision_app.domain.officers import OfficersReview, decide_by_officers
from decision_app.domain.policy import CreditFacts, Decision, LoanRequest, PolicyConfig, PropertyFacts, decide
from lending.amortization import amortization_schedule, loan_cost, to_cents

D = Decimal
CONFIG = PolicyConfig()
#: 200 000 over 240 months at 3.55 %: 1165.06 a month, plus 50.00 of insurance.
REPAYMENT = D("1215.06")
PROPERTY = PropertyFacts(estimated_value=D("375000"), loan_to_value=D("0.5333"))
#: Any first due date: the schedule's figures do not depend on it.
FIRST_DUE = date(2027, 1, 5)


def request(amount: str = "200000", months: int = 240, status: str = "permanent") -> LoanRequest:
    return LoanRequest(D(amount), months, status, D("5200"), D("0"))


def credit(income: str = "10000", debts: str = "0", score: int = 720) -> CreditFacts:
    return CreditFacts(score=score, payment_incidents=0, monthly_debts=D(debts), monthly_income=D(income))


def with_dti(ratio: str) -> CreditFacts:
    """Credit facts whose debt-to-income with the loan's repayment is exactly ``ratio`` (income 10 000)."""
    return credit(debts=str(D(ratio) * 10000 - REPAYMENT))


def codes(decision: Decision) -> list[str]:
    return [reason.code for reason in decision.reasons]


def test_the_built_in_bands_and_version() -> None:
    assert CONFIG.version == "2026.12"
    assert (CONFIG.refer_debt_to_income_from, CONFIG.refer_loan_to_value_above, CONFIG.refer_credit_score_margin) \
        == (D("0.33"), D("0.90"), 20)


@pytest.mark.parametrize(("ratio", "outcome"), [
    ("0.3299", "APPROVED"), ("0.33", "REFERRED"), ("0.35", "REFERRED"), ("0.3501", "REJECTED")])
def test_debt_to_income_band_edges(ratio: str, outcome: str) -> None:
    decision = decide(request(), with_dti(ratio), PROPERTY)
    assert decision.outcome == outcome and D(decision.inputs["debt_to_income"]) == D(ratio)
    if outcome == "REFERRED":
        assert codes(decision) == ["DEBT_TO_INCOME_NEAR_LIMIT"]
        assert list(decision.referral) == [{"band": "debt_to_income", "value": decision.inputs["debt_to_income"],
                                            "from": "0.33", "to": "0.35"}]


@pytest.mark.parametrize(("ltv", "outcome"), [
    ("0.9000", "APPROVED"), ("0.9001", "REFERRED"), ("1.0000", "REFERRED")])
def test_loan_to_value_band_edges(ltv: str, outcome: str) -> None:
    estate = PropertyFacts(estimated_value=to_cents(D("200000") / D(ltv)), loan_to_value=D(ltv))
    decision = decide(request(), credit(), estate)
    assert decision.outcome == outcome
    if outcome == "REFERRED":
        assert codes(decision) == ["LOAN_TO_VALUE_NEAR_LIMIT"]
        assert decision.referral[0] == {"band": "loan_to_value", "value": ltv, "from": "0.90", "to": "1.00"}


@pytest.mark.parametrize(("score", "outcome"), [
    (599, "REJECTED"), (600, "REFERRED"), (619, "REFERRED"), (620, "APPROVED")])
def test_credit_score_band_edges(score: int, outcome: str) -> None:
    decision = decide(request(), credit(score=score), PROPERTY)
    assert decision.outcome == outcome
    if outcome == "REFERRED":
        assert codes(decision) == ["CREDIT_SCORE_NEAR_MINIMUM"]
        assert decision.referral[0] == {"band": "credit_score", "value": str(score), "from": "600", "to": "620"}


def test_a_referral_states_every_band_with_its_figures_and_the_offer_it_would_get() -> None:
    estate = PropertyFacts(estimated_value=D("210000"), loan_to_value=D("0.9524"))
    decision = decide(request(), replace(with_dti("0.34"), score=610), estate)
    assert decision.outcome == "REFERRED"
    assert codes(decision) == ["DEBT_TO_INCOME_NEAR_LIMIT", "LOAN_TO_VALUE_NEAR_LIMIT", "CREDIT_SCORE_NEAR_MINIMUM"]
    assert [band["band"] for band in decision.referral] == ["debt_to_income", "loan_to_value", "credit_score"]
    assert decision.reasons[0].params == {"debt_to_income": "0.3400", "refer_debt_to_income_from": "0.33",
                                          "max_debt_to_income": "0.35"}
    assert decision.reasons[1].params == {"loan_to_value": "0.9524", "refer_loan_to_value_above": "0.90",
                                          "max_loan_to_value": "1.00"}
    assert decision.reasons[2].params == {"credit_score": "610", "min_credit_score": "600",
                                          "refer_credit_score_margin": "20"}
    assert "34 %" in decision.reasons[0].message and "95.2 %" in decision.reasons[1].message
    assert "610" in decision.reasons[2].message and "20 points" in decision.reasons[2].message
    assert decision.offer is not None and decision.offer.monthly_payment == D("1165.06")
    assert all(rule.passed for rule in decision.rules) and decision.decided_by == "rules"
    data = decision.to_dict()
    assert data["outcome"] == "REFERRED" and data["offer"]["amount"] == "200000" and data["review"] is None


def test_a_rejection_or_an_information_request_is_never_a_referral() -> None:
    rejected = decide(request(), replace(with_dti("0.34"), payment_incidents=1), PROPERTY)
    assert rejected.outcome == "REJECTED" and codes(rejected) == ["PAYMENT_INCIDENT"] and rejected.referral == ()
    asked = decide(request(status="self_employed"), credit(score=605), PROPERTY)
    assert asked.outcome == "INFO_REQUESTED" and asked.referral == ()
    answers = {"declared_income_year_1": "60000", "declared_income_year_2": "60000"}
    referred = decide(request(status="self_employed"), credit(score=605), PROPERTY, information=answers)
    assert referred.outcome == "REFERRED" and codes(referred) == ["CREDIT_SCORE_NEAR_MINIMUM"]


def test_bands_follow_the_configuration() -> None:
    narrow = replace(CONFIG, refer_debt_to_income_from=D("0.35"), refer_loan_to_value_above=D("1.00"),
                     refer_credit_score_margin=0)
    assert decide(request(), replace(with_dti("0.34"), score=600), PROPERTY, config=narrow).outcome == "APPROVED"
    assert decide(request(), with_dti("0.35"), PROPERTY, config=narrow).outcome == "REFERRED"
    assert decide(request(), with_dti("0.34"), PROPERTY, refer=False).outcome == "APPROVED"


# -- The officers' decision ------------------------------------------------------------------------

#: A case referred for its debt-to-income: 1215.06 / 3650 = 33.29 %.
REFERRED_CREDIT = credit(income="3650")


def review(**changes: object) -> OfficersReview:
    base: dict[str, object] = {"decision": "APPROVE", "note": "Stable job, savings.", "proposed_by": "anne",
                               "confirmed_by": "bruno"}
    return OfficersReview(**{**base, **changes})  # type: ignore[arg-type]


def test_the_case_is_referred_before_the_officers_decide() -> None:
    assert codes(decide(request(), REFERRED_CREDIT, PROPERTY)) == ["DEBT_TO_INCOME_NEAR_LIMIT"]


def test_an_approval_as_asked_ignores_the_bands() -> None:
    decision = decide_by_officers(request(), REFERRED_CREDIT, PROPERTY, review())
    assert decision.outcome == "APPROVED" and decision.decided_by == "officers" and decision.referral == ()
    assert decision.offer == decide(request(), REFERRED_CREDIT, PROPERTY).offer
    assert decision.review == {"decision": "APPROVE", "note": "Stable job, savings.", "reasons": [], "amount": None,
                               "duration_months": None, "proposed_by": "anne", "confirmed_by": "bruno"}


def test_a_lower_amount_gets_an_offer_recomputed_to_the_cent() -> None:
    decision = decide_by_officers(request(), REFERRED_CREDIT, PROPERTY, review(amount=D("180000.00")))
    assert decision.outcome == "APPROVED"
    cost = loan_cost(D("180000.00"), D("0.0355"), 240)
    schedule = amortization_schedule(D("180000.00"), D("0.0355"), 240, FIRST_DUE)
    offer = decision.offer
    assert offer is not None
    assert (offer.amount, offer.duration_months, offer.annual_rate) == (D("180000.00"), 240, D("0.0355"))
    assert offer.monthly_payment == cost.monthly_payment == schedule[0].payment
    assert offer.total_interest == cost.total_interest == sum((row.interest for row in schedule), D(0))
    assert offer.total_cost == D("180000.00") + offer.total_interest
    assert offer.monthly_insurance == D("45.00")  # 0.30 % a year of 180 000
    assert decision.inputs["loan_to_value"] == "0.4800"  # 180 000 / 375 000, recomputed


def test_a_shorter_duration_is_priced_on_its_bracket_and_bound_by_the_limits() -> None:
    rich = credit(income="10000")
    shorter = decide_by_officers(request(), rich, PROPERTY, review(duration_months=120))
    assert shorter.outcome == "APPROVED" and shorter.offer is not None
    assert shorter.offer.annual_rate == D("0.0320")
    assert shorter.offer.monthly_payment == loan_cost(D("200000"), D("0.0320"), 120).monthly_payment
    breached = decide_by_officers(request(), REFERRED_CREDIT, PROPERTY, review(duration_months=120))
    assert breached.outcome == "REJECTED" and codes(breached) == ["DEBT_TO_INCOME_TOO_HIGH"]
    assert breached.offer is None and breached.decided_by == "officers"


def test_a_lower_amount_still_above_the_value_is_rejected() -> None:
    estate = PropertyFacts(estimated_value=D("150000"), loan_to_value=D("1.3333"))
    decision = decide_by_officers(request(), credit(), estate, review(amount=D("160000")))
    assert decision.outcome == "REJECTED" and codes(decision) == ["LOAN_TO_VALUE_TOO_HIGH"]
    assert decision.inputs["loan_to_value"] == "1.0667"


def test_a_rejection_states_the_officers_reasons() -> None:
    decision = decide_by_officers(request(), REFERRED_CREDIT, PROPERTY, review(
        decision="REJECT", reasons=("Your income is too recent.", "Your savings do not cover the fees.")))
    assert decision.outcome == "REJECTED" and decision.offer is None and decision.decided_by == "officers"
    assert [(r.code, r.message, r.params) for r in decision.reasons] == [
        ("OFFICER_DECISION", "Your income is too recent.", {}),
        ("OFFICER_DECISION", "Your savings do not cover the fees.", {})]
    assert decision.inputs["debt_to_income"] == "0.3329"  # the figures they decided on
    generic = decide_by_officers(request(), REFERRED_CREDIT, PROPERTY, review(decision="REJECT"))
    assert codes(generic) == ["OFFICER_DECISION"] and "officers" in generic.reasons[0].message


@pytest.mark.parametrize("bad", [
    {"decision": "MAYBE"}, {"decision": "APPROVE", "amount": "-1"}, {"decision": "APPROVE", "amount": "x"},
    {"decision": "APPROVE", "duration_months": 0}, {"decision": "APPROVE", "duration_months": True}])
def test_a_malformed_review_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        OfficersReview.from_dict(bad)


def test_a_review_is_read_from_the_message() -> None:
    parsed = OfficersReview.from_dict({"decision": "APPROVE", "note": "ok", "reasons": [], "amount": "180000.00",
                                       "duration_months": 180, "proposed_by": "anne", "confirmed_by": "bruno",
                                       "proposed_at": "2026-12-06T10:00:00+00:00"})
    assert parsed == OfficersReview("APPROVE", "ok", (), D("180000.00"), 180, "anne", "bruno")

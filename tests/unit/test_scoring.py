"""Credit scoring in detail: every weight, band boundary, clamp and validation."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from decimal import Decimal

import pytest

from credit_app.domain.scoring import NO_INCOME_DTI, BureauRecord, ScoringConfig, assess, debt_to_income

D = Decimal
CLEAN = BureauRecord(found=True, payment_incidents=0, open_credits=0, open_credits_monthly=D("0"))


@pytest.mark.parametrize(
    ("status", "points"),
    [("permanent", 40), ("retired", 20), ("fixed_term", 0), ("self_employed", -10), ("unemployed", -80)],
)
def test_employment_points(status: str, points: int) -> None:
    # DTI 0 → +40 band
    assert assess(CLEAN, D("3000"), D("0"), status).score == 650 + 40 + points


@pytest.mark.parametrize(
    ("debts", "points"),
    [("300", 40), ("300.30", 20), ("600", 20), ("990", 0), ("1500", -40), ("1503", -90), ("3000", -90)],
)
def test_debt_to_income_bands_include_their_upper_bound(debts: str, points: int) -> None:
    result = assess(CLEAN, D("3000"), D(debts), "fixed_term")
    assert result.score == 650 + points


@pytest.mark.parametrize(("credits", "penalty"), [(0, 0), (2, 0), (3, 25), (5, 75)])
def test_open_credits_beyond_two_cost_points(credits: int, penalty: int) -> None:
    record = BureauRecord(True, payment_incidents=0, open_credits=credits, open_credits_monthly=D("0"))
    assert assess(record, D("3000"), D("0"), "fixed_term").score == 650 + 40 - penalty


def test_each_incident_costs_120() -> None:
    record = BureauRecord(True, payment_incidents=1, open_credits=0, open_credits_monthly=D("0"))
    assert assess(record, D("3000"), D("0"), "permanent").score == 650 - 120 + 40 + 40


def test_declared_debts_count_when_larger_than_the_bureau() -> None:
    record = BureauRecord(True, payment_incidents=0, open_credits=1, open_credits_monthly=D("250"))
    result = assess(record, D("5000"), D("400"), "permanent")
    assert result.monthly_debts == D("400") and result.debt_to_income == D("0.0800")


def test_unknown_applicant_ignores_any_bureau_figures() -> None:
    odd = BureauRecord(found=False, payment_incidents=3, open_credits=9, open_credits_monthly=D("2000"))
    result = assess(odd, D("4000"), D("100"), "permanent")
    assert (result.bureau_found, result.payment_incidents, result.open_credits) == (False, 0, 0)
    assert result.monthly_debts == D("100") and result.score == 650 + 40 + 40


def test_score_is_clamped_both_ways() -> None:
    generous = ScoringConfig(base=900)
    assert assess(CLEAN, D("3000"), D("0"), "permanent", generous).score == 850
    record = BureauRecord(True, payment_incidents=5, open_credits=10, open_credits_monthly=D("5000"))
    assert assess(record, D("1000"), D("0"), "unemployed").score == 300


def test_debt_to_income_rounding_and_cap() -> None:
    assert debt_to_income(D("1"), D("3")) == D("0.3333")
    assert debt_to_income(D("2"), D("3")) == D("0.6667")
    assert debt_to_income(D("100000"), D("1")) == NO_INCOME_DTI
    assert debt_to_income(D("0"), D("0")) == NO_INCOME_DTI


def test_assessment_reports_its_inputs() -> None:
    result = assess(CLEAN, D("4200.50"), D("10"), "retired")
    assert (result.monthly_income, result.monthly_debts, result.bureau_found) == (D("4200.50"), D("10"), True)


@pytest.mark.parametrize(
    ("income", "debts", "status"),
    [("-1", "0", "permanent"), ("1000", "-1", "permanent"), ("1000", "0", "student")],
)
def test_invalid_inputs_are_refused(income: str, debts: str, status: str) -> None:
    with pytest.raises(ValueError):
        assess(CLEAN, D(income), D(debts), status)


def test_results_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        assess(CLEAN, D("1"), D("0"), "permanent").score = 1  # type: ignore[misc]

"""Credit scoring and property valuation, pure."""

from __future__ import annotations

from decimal import Decimal

import pytest

from credit_app.domain.scoring import NO_INCOME_DTI, BureauRecord, assess
from property_app.domain.valuation import ValuationUnavailable, department_of, normalise, value_property

CLEAN = BureauRecord(found=True, payment_incidents=0, open_credits=0, open_credits_monthly=Decimal("0"))
UNKNOWN = BureauRecord(found=False, payment_incidents=0, open_credits=0, open_credits_monthly=Decimal("0"))


def test_clean_permanent_applicant_scores_well() -> None:
    result = assess(CLEAN, Decimal("5000"), Decimal("0"), "permanent")
    assert result.score == 650 + 40 + 40
    assert result.debt_to_income == Decimal("0.0000")


def test_incidents_and_many_credits_lower_the_score() -> None:
    record = BureauRecord(True, payment_incidents=2, open_credits=4, open_credits_monthly=Decimal("1000"))
    result = assess(record, Decimal("4000"), Decimal("200"), "fixed_term")
    assert result.monthly_debts == Decimal("1000")  # the larger of declared and bureau
    assert result.debt_to_income == Decimal("0.2500")
    assert result.score == 650 - 240 - 50 + 0 + 0


def test_unknown_to_the_bureau_is_scored_on_declared_finances() -> None:
    result = assess(UNKNOWN, Decimal("3000"), Decimal("1200"), "self_employed")
    assert result.bureau_found is False and result.payment_incidents == 0
    assert result.score == 650 - 10 - 40


def test_no_income_and_clamping() -> None:
    result = assess(BureauRecord(True, 9, 9, Decimal("0")), Decimal("0"), Decimal("10"), "unemployed")
    assert result.debt_to_income == NO_INCOME_DTI
    assert result.score == 300


def test_city_price_then_department_fallback() -> None:
    lyon = value_property("69002", "lyon", "apartment", Decimal("75"), Decimal("200000"))
    assert lyon.reference == "city:Lyon" and lyon.price_per_m2 == Decimal("5000.00")
    assert lyon.estimated_value == Decimal("375000.00") and lyon.loan_to_value == Decimal("0.5333")
    village = value_property("69850", "Saint-Martin-en-Haut", "house", Decimal("100"), Decimal("100000"))
    assert village.reference == "department:69"


def test_names_match_without_accents_case_or_hyphens() -> None:
    assert normalise("Saint-Étienne") == normalise("saint etienne") == normalise("ST ETIENNE")
    valuation = value_property("42000", "Saint Etienne", "house", Decimal("100"), Decimal("1"))
    assert valuation.reference.startswith("city")


def test_departments_of_corsica_and_overseas() -> None:
    assert department_of("20000") == "2A" and department_of("20200") == "2B"
    assert department_of("97400") == "974" and department_of("75001") == "75"
    with pytest.raises(ValueError):
        department_of("7500")


def test_surface_adjustments() -> None:
    small = value_property("75011", "Paris", "apartment", Decimal("20"), Decimal("1"))
    assert [a.name for a in small.adjustments] == ["small_surface"]
    assert small.price_per_m2 == Decimal("10368.00")
    big = value_property("33000", "Bordeaux", "house", Decimal("250"), Decimal("1"))
    assert [a.name for a in big.adjustments] == ["large_house"]


def test_unknown_location_cannot_be_valued() -> None:
    with pytest.raises(ValuationUnavailable) as raised:
        value_property("98000", "Monaco", "apartment", Decimal("50"), Decimal("1"))
    assert raised.value.code == "VALUATION_UNAVAILABLE"

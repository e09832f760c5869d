"""loan's request schemas where the document and the validation must say the same thing."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import marshmallow as ma
import pytest

import loan_app.resources.applications.fields as fields
from loan_app.resources.applications.fields import adult_birth_date, birth_years_pattern
from loan_app.resources.applications.schemas import LoanSchema, PropertySchema

PROPERTY = {"address": "1 rue de la Paix", "postcode": "75002", "city": "Paris", "kind": "apartment",
            "surface_m2": 50}


@pytest.mark.parametrize(("sent", "stored"), [
    (0.30000000000000004, Decimal("0.30")),   # 0.1 + 0.2 in JavaScript
    (0.5700000000000001, Decimal("0.57")),    # 57 * 0.01
    (123456.78, Decimal("123456.78")),
    ("250000.10", Decimal("250000.10")),
    (99999999.99, Decimal("99999999.99")),
])
def test_a_cent_amount_up_to_float_noise_is_read_as_the_cent(sent: object, stored: Decimal) -> None:
    assert PropertySchema().load({**PROPERTY, "price": sent})["price"] == stored


@pytest.mark.parametrize("sent", [1234.567, "0.30000000000000004", "1234.567", 0.001, 5e-324, 1e-17])
def test_a_third_decimal_a_person_typed_or_a_string_is_refused(sent: object) -> None:
    with pytest.raises(ma.ValidationError) as refused:
        PropertySchema().load({**PROPERTY, "price": sent})
    assert refused.value.messages["price"]


def test_a_price_is_at_least_a_cent_as_documented() -> None:
    with pytest.raises(ma.ValidationError):
        PropertySchema().load({**PROPERTY, "price": 0})
    assert PropertySchema().load({**PROPERTY, "price": 0.01})["price"] == Decimal("0.01")
    assert LoanSchema().load({"amount": 1000.0, "duration_months": 12})["amount"] == Decimal("1000.00")


@pytest.mark.parametrize("today", [date(2026, 11, 25), date(2027, 1, 1), date(2026, 12, 31), date(2030, 2, 28)])
def test_the_birth_date_pattern_spells_every_day_of_the_safe_years_and_nothing_else(
        today: date, monkeypatch: pytest.MonkeyPatch) -> None:
    pattern = re.compile(birth_years_pattern(today))
    safe = range(today.year - 119, today.year - 18)

    class Today(date):
        @classmethod
        def today(cls) -> date:
            return today

    monkeypatch.setattr(fields, "date", Today)
    day = date(today.year - 125, 1, 1)
    while day <= today:
        matched = pattern.search(day.isoformat()) is not None
        assert matched == (day.year in safe), day
        if matched:
            adult_birth_date(day)  # raises if the pattern were wider than the rule
        day += timedelta(days=1)
    for impossible in ("2001-02-29", "2000-02-30", "2000-04-31", "2000-13-01", "2000-00-10", "2000-01-00",
                       "2000-01-01T00:00", "x2000-01-01", "2000-1-01"):
        assert pattern.search(impossible) is None, impossible
    assert pattern.search("2000-02-29") is not None

"""Amortization maths: the offer and the schedule agree to the cent."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

import pytest

from lending.amortization import add_months, amortization_schedule, loan_cost, monthly_payment, to_cents


def test_monthly_payment_matches_the_annuity_formula() -> None:
    # 200 000 € over 240 months at 3.55 %: r = 0.0355/12, P·r/(1-(1+r)^-n) = 1165.06
    assert monthly_payment(Decimal("200000"), Decimal("0.0355"), 240) == Decimal("1165.06")
    assert monthly_payment(Decimal("1200"), Decimal("0"), 12) == Decimal("100.00")


def test_rounding_is_half_up() -> None:
    assert to_cents(Decimal("0.125")) == Decimal("0.13")
    assert to_cents(Decimal("0.124999")) == Decimal("0.12")


def test_dates_clamp_to_month_end() -> None:
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2027, 11, 15), 3) == date(2028, 2, 15)


@pytest.mark.parametrize("seed", range(40))
def test_schedule_totals_match_the_offer(seed: int) -> None:
    rng = random.Random(seed)
    principal = Decimal(rng.randint(1_000_00, 2_000_000_00)) / 100
    rate = Decimal(rng.randint(0, 900)) / 10000
    months = rng.randint(12, 360)
    schedule = amortization_schedule(principal, rate, months, date(2027, 1, 5))
    cost = loan_cost(principal, rate, months)
    assert len(schedule) == months
    assert schedule[-1].balance == Decimal("0.00")
    assert sum(row.principal for row in schedule) == principal
    assert sum(row.interest for row in schedule) == cost.total_interest
    assert cost.total_cost == principal + cost.total_interest
    assert all(row.payment == row.interest + row.principal for row in schedule)
    assert all(row.payment == cost.monthly_payment for row in schedule[:-1])
    assert abs(schedule[-1].payment - cost.monthly_payment) <= Decimal("1.00") + months * Decimal("0.01")


@pytest.mark.parametrize(("principal", "rate", "months"),
                         [(0, "0.01", 12), (1000, "-0.01", 12), (1000, "0.01", 0)])
def test_invalid_inputs_are_refused(principal: int, rate: str, months: int) -> None:
    with pytest.raises(ValueError):
        loan_cost(Decimal(principal), Decimal(rate), months)


@pytest.mark.parametrize(("principal", "rate", "months"),
                         [("0.01", "0", 1), ("0.03", "0", 2), ("0.01", "0.09", 3), ("250000", "0.037", 300),
                          ("1000", "0.5", 2)])
def test_the_offer_figures_are_the_schedules_own(principal: str, rate: str, months: int) -> None:
    schedule = amortization_schedule(Decimal(principal), Decimal(rate), months, date(2000, 1, 1))
    cost = loan_cost(Decimal(principal), Decimal(rate), months)
    assert cost.monthly_payment == schedule[0].payment
    assert cost.total_interest == sum((row.interest for row in schedule), Decimal("0.00"))

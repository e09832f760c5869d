"""Amortization maths in detail: known figures, the last installment, dates, validation."""

from __future__ import annotations

import random
from dataclasses import FrozenInstanceError
from datetime import date
from decimal import Decimal

import pytest

from lending.amortization import (
    Installment,
    add_months,
    amortization_schedule,
    loan_cost,
    monthly_payment,
    to_cents,
)

D = Decimal


def annuity_float(principal: float, annual_rate: float, months: int) -> float:
    rate = annual_rate / 12
    return principal * rate / (1 - (1 + rate) ** -months)


def test_first_row_of_a_known_schedule() -> None:
    first = amortization_schedule(D("200000"), D("0.0355"), 240, date(2027, 1, 5))[0]
    # interest 200000 × 0.0355 / 12 = 591.666… → 591.67; principal 1165.06 − 591.67 = 573.39
    assert first == Installment(1, date(2027, 1, 5), D("1165.06"), D("591.67"), D("573.39"), D("199426.61"))


@pytest.mark.parametrize("seed", range(25))
def test_payment_agrees_with_an_independent_float_formula(seed: int) -> None:
    rng = random.Random(1000 + seed)
    principal, rate, months = rng.randint(5_000, 900_000), rng.randint(1, 800) / 10000, rng.randint(6, 360)
    expected = annuity_float(principal, rate, months)
    got = monthly_payment(D(principal), D(str(rate)), months)
    assert abs(float(got) - expected) < 0.006


def test_zero_rate_schedule_puts_the_remainder_in_the_last_installment() -> None:
    schedule = amortization_schedule(D("1000"), D("0"), 3, date(2027, 1, 1))
    assert [row.payment for row in schedule] == [D("333.33"), D("333.33"), D("333.34")]
    assert all(row.interest == D("0.00") for row in schedule)
    assert loan_cost(D("1000"), D("0"), 3).total_interest == D("0.00")


def test_single_month_loan_repays_principal_and_one_month_of_interest() -> None:
    (only,) = amortization_schedule(D("1200"), D("0.12"), 1, date(2027, 6, 1))
    assert (only.payment, only.interest, only.principal, only.balance) == (
        D("1212.00"),
        D("12.00"),
        D("1200.00"),
        D("0.00"),
    )


def test_schedule_due_dates_are_monthly_and_clamped() -> None:
    schedule = amortization_schedule(D("10000"), D("0.03"), 5, date(2027, 12, 31))
    assert [row.due_date for row in schedule] == [
        date(2027, 12, 31),
        date(2028, 1, 31),
        date(2028, 2, 29),
        date(2028, 3, 31),
        date(2028, 4, 30),
    ]
    assert [row.number for row in schedule] == [1, 2, 3, 4, 5]


def test_add_months_rolls_over_years() -> None:
    assert add_months(date(2027, 12, 15), 1) == date(2028, 1, 15)
    assert add_months(date(2027, 3, 31), 0) == date(2027, 3, 31)
    assert add_months(date(2027, 1, 29), 13) == date(2028, 2, 29)
    assert add_months(date(2027, 1, 31), 240) == date(2047, 1, 31)


def test_loan_cost_states_the_schedule() -> None:
    cost = loan_cost(D("200000"), D("0.0355"), 240)
    assert cost.monthly_payment == monthly_payment(D("200000"), D("0.0355"), 240) == D("1165.06")
    assert (cost.annual_rate, cost.months) == (D("0.0355"), 240)
    # 240 × 1165.06 − 200 000 = 79 614.40, give or take the last installment's adjustment
    assert abs(cost.total_interest - D("79614.40")) < D("2.40")
    assert cost.total_cost == D("200000.00") + cost.total_interest


def test_balance_decreases_and_every_amount_is_in_cents() -> None:
    schedule = amortization_schedule(D("123456.78"), D("0.0412"), 180, date(2027, 1, 1))
    balances = [row.balance for row in schedule]
    assert balances == sorted(balances, reverse=True)
    for row in schedule:
        for amount in (row.payment, row.interest, row.principal, row.balance):
            assert amount == to_cents(amount) and amount >= 0


def test_to_cents_rounds_half_away_from_zero() -> None:
    assert to_cents(D("2.675")) == D("2.68")
    assert to_cents(D("-0.125")) == D("-0.13")
    assert to_cents(D("7")) == D("7.00")


@pytest.mark.parametrize(
    ("principal", "rate", "months"),
    [("0", "0.03", 12), ("-5", "0.03", 12), ("1000", "-0.0001", 12), ("1000", "0.03", -1)],
)
def test_every_entry_point_validates(principal: str, rate: str, months: int) -> None:
    for function in (monthly_payment, loan_cost):
        with pytest.raises(ValueError):
            function(D(principal), D(rate), months)
    with pytest.raises(ValueError):
        amortization_schedule(D(principal), D(rate), months, date(2027, 1, 1))


def test_results_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        loan_cost(D("1000"), D("0.01"), 12).months = 3  # type: ignore[misc]

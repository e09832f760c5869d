"""Amortization maths and the offer record, shared by decision_app (the offer) and notify_app (the schedule document).

Both must agree to the cent, so both use this one module: the offer's total interest is the sum
of the schedule's interest column, computed here, rather than a closed formula that would
disagree with a rounded schedule by a few cents.
"""

from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from common.kernel.jsonable import jsonable

CENT = Decimal("0.01")
#: The precision every service states a ratio to (loan-to-value, debt-to-income): 0.3512 is 35.12 %.
RATIO = Decimal("0.0001")


def to_cents(amount: Decimal) -> Decimal:
    """Round half-up to the cent (the rule at every edge where money is shown or stored)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def to_ratio(ratio: Decimal) -> Decimal:
    """Round a ratio half-up to 4 decimals: how property_app states a loan-to-value, credit_app and
    decision_app a debt-to-income, and the officers' round recomputes the loan-to-value, so that
    the same figures give the same ratio in every service."""
    return ratio.quantize(RATIO, rounding=ROUND_HALF_UP)


def _check(principal: Decimal, annual_rate: Decimal, months: int) -> None:
    if principal <= 0:
        raise ValueError("principal must be positive")
    if months <= 0:
        raise ValueError("months must be positive")
    if annual_rate < 0:
        raise ValueError("annual_rate must not be negative")


def monthly_payment(principal: Decimal, annual_rate: Decimal, months: int) -> Decimal:
    """The constant monthly payment of an annuity loan, rounded to the cent.

    ``annual_rate`` is a fraction (``Decimal("0.0355")`` for 3.55 %), compounded monthly.
    """
    _check(principal, annual_rate, months)
    if annual_rate == 0:
        return to_cents(principal / months)
    with localcontext() as ctx:
        ctx.prec = 40
        rate = annual_rate / 12
        factor = (1 + rate) ** months
        return to_cents(principal * rate * factor / (factor - 1))


@dataclass(frozen=True)
class Installment:
    """One row of a repayment schedule."""

    number: int
    due_date: date
    payment: Decimal
    interest: Decimal
    principal: Decimal
    balance: Decimal


def add_months(start: date, months: int) -> date:
    """``start`` moved by ``months``, the day clamped to the month's length (Jan 31 → Feb 28)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def amortization_schedule(principal: Decimal, annual_rate: Decimal, months: int, first_due_date: date
                          ) -> list[Installment]:
    """Every monthly installment; the last one absorbs rounding so the balance ends at 0.00."""
    payment = monthly_payment(principal, annual_rate, months)
    rate = annual_rate / 12
    balance = to_cents(principal)
    rows: list[Installment] = []
    for number in range(1, months + 1):
        interest = to_cents(balance * rate)
        part = balance if number == months else min(payment - interest, balance)
        balance = balance - part
        due = add_months(first_due_date, number - 1)
        rows.append(Installment(number, due, interest + part, interest, part, balance))
    return rows


def _cost_figures(principal: Decimal, annual_rate: Decimal, months: int) -> tuple[Decimal, Decimal]:
    """(the first installment's payment, the sum of the interest column) of
    :func:`amortization_schedule`, without building the schedule.

    Why a second loop: the decision worker needs only these two figures for every offer, and the
    schedule's dates and rows were most of its CPU. It is the same arithmetic, row by row
    (``tests/unit/test_finance.py`` checks that both agree).
    """
    payment = monthly_payment(principal, annual_rate, months)
    rate = annual_rate / 12
    balance = to_cents(principal)
    total = Decimal("0.00")
    first: Decimal | None = None
    for number in range(1, months + 1):
        interest = (balance * rate).quantize(CENT, rounding=ROUND_HALF_UP)
        part = balance if number == months else min(payment - interest, balance)
        balance -= part
        total += interest
        if first is None:
            first = interest + part
    assert first is not None  # months >= 1 (monthly_payment checked it)
    return first, total


@dataclass(frozen=True)
class LoanCost:
    """What an offer states: rate, monthly payment, total interest, total cost."""

    monthly_payment: Decimal
    total_interest: Decimal
    total_cost: Decimal
    annual_rate: Decimal
    months: int


def loan_cost(principal: Decimal, annual_rate: Decimal, months: int) -> LoanCost:
    """The cost of a loan, consistent to the cent with :func:`amortization_schedule`."""
    first_payment, total_interest = _cost_figures(principal, annual_rate, months)
    return LoanCost(
        monthly_payment=first_payment,
        total_interest=total_interest,
        total_cost=to_cents(principal) + total_interest,
        annual_rate=annual_rate,
        months=months,
    )


@dataclass(frozen=True)
class Offer:
    """A loan offer as the decision service publishes it and notify_app documents it.

    One class for both ends of ``DecisionMade``/``ApplicationStatusChanged``: money travels as
    strings (:meth:`to_dict`) and comes back as Decimal (:meth:`from_dict`).
    """

    amount: Decimal
    duration_months: int
    annual_rate: Decimal
    monthly_payment: Decimal
    monthly_insurance: Decimal
    total_interest: Decimal
    total_cost: Decimal

    def to_dict(self) -> dict[str, Any]:
        """JSON-simple form (Decimals as strings)."""
        return jsonable(asdict(self))

    @classmethod
    def from_dict(cls, offer: dict[str, Any]) -> Offer:
        """Parse the published dict (money as strings); ``ValueError`` if a figure is missing or bad."""
        money = ("amount", "annual_rate", "monthly_payment", "monthly_insurance", "total_interest", "total_cost")
        try:
            values = {name: Decimal(str(offer[name])) for name in money}
            months = int(offer["duration_months"])
        except (KeyError, InvalidOperation, TypeError, ValueError) as error:
            raise ValueError(f"malformed offer: {error!r}") from error
        if not all(value.is_finite() for value in values.values()):
            raise ValueError(f"malformed offer: not a number in {values}")
        return cls(duration_months=months, **values)

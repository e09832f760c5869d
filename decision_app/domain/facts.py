"""What the lending policy reads: its thresholds (:class:`PolicyConfig`) and the facts of one
application (the loan asked for, the credit check's and the valuation's figures)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class PolicyConfig:
    """Every threshold of the policy; ``version`` is recorded with each decision.

    These are the built-in defaults; an admin publishes other versions at runtime
    (``decision_app.policies``), stored as JSON by :mod:`decision_app.domain.thresholds`.
    """

    version: str = "2026.12"
    max_debt_to_income: Decimal = Decimal("0.35")
    max_duration_months: int = 300
    max_loan_to_value: Decimal = Decimal("1.00")
    min_credit_score: int = 600
    #: Referral bands: a case that passes every rule but lies in one of them goes to the officers.
    #: Debt-to-income from this ratio (inclusive) up to ``max_debt_to_income`` (inclusive).
    refer_debt_to_income_from: Decimal = Decimal("0.33")
    #: Loan-to-value above this ratio (exclusive) up to ``max_loan_to_value`` (inclusive).
    refer_loan_to_value_above: Decimal = Decimal("0.90")
    #: Credit score from ``min_credit_score`` (inclusive) to that plus this margin (exclusive).
    refer_credit_score_margin: int = 20
    #: (longest duration in months, annual rate): the first bracket that fits applies.
    rate_grid: tuple[tuple[int, Decimal], ...] = (
        (120, Decimal("0.0320")),
        (180, Decimal("0.0340")),
        (240, Decimal("0.0355")),
        (300, Decimal("0.0370")),
    )
    #: Borrower insurance, annual, on the initial capital; counted in the debt-to-income.
    insurance_rate: Decimal = Decimal("0.0030")
    info_for_self_employed: bool = True

    def rate_for(self, months: int) -> Decimal:
        """The grid's rate for ``months`` (beyond the grid: the last bracket's, for the DTI only)."""
        return next((rate for limit, rate in self.rate_grid if months <= limit), self.rate_grid[-1][1])


@dataclass(frozen=True)
class LoanRequest:
    amount: Decimal
    duration_months: int
    employment_status: str
    monthly_income: Decimal
    monthly_debts: Decimal


@dataclass(frozen=True)
class CreditFacts:
    score: int
    payment_incidents: int
    monthly_debts: Decimal
    monthly_income: Decimal


@dataclass(frozen=True)
class PropertyFacts:
    estimated_value: Decimal
    loan_to_value: Decimal

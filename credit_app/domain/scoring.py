"""A credit score and debt-to-income from a bureau record and the applicant's declared finances.

The score is deliberately simple and explainable (a bank's real scorecard is a model of its
own): a base, minus payment incidents and many open credits, adjusted by debt-to-income and
employment. Every weight lives in :class:`ScoringConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lending.amortization import to_ratio

#: Debt-to-income reported when the applicant declares no income (instead of a division by zero).
NO_INCOME_DTI = Decimal("9.9999")


@dataclass(frozen=True)
class BureauRecord:
    """What the bureau knows; an applicant unknown to it has ``found=False`` and nothing else."""

    found: bool
    payment_incidents: int
    open_credits: int
    open_credits_monthly: Decimal


#: What an applicant unknown to the bureau counts as.
UNKNOWN_TO_BUREAU = BureauRecord(found=False, payment_incidents=0, open_credits=0,
                                 open_credits_monthly=Decimal(0))


@dataclass(frozen=True)
class CreditAssessment:
    """The result of a credit check, as the decision service receives it."""

    score: int
    payment_incidents: int
    open_credits: int
    monthly_income: Decimal
    monthly_debts: Decimal
    debt_to_income: Decimal
    bureau_found: bool


@dataclass(frozen=True)
class ScoringConfig:
    """The scorecard's weights (points on a 300–850 scale)."""

    base: int = 650
    per_incident: int = 120
    free_open_credits: int = 2
    per_extra_open_credit: int = 25
    #: (upper bound of existing debt-to-income, points), first match wins.
    dti_bands: tuple[tuple[Decimal, int], ...] = (
        (Decimal("0.10"), 40),
        (Decimal("0.20"), 20),
        (Decimal("0.33"), 0),
        (Decimal("0.50"), -40),
        (Decimal("Infinity"), -90),
    )
    employment: tuple[tuple[str, int], ...] = (
        ("permanent", 40),
        ("retired", 20),
        ("fixed_term", 0),
        ("self_employed", -10),
        ("unemployed", -80),
    )
    minimum: int = 300
    maximum: int = 850


def debt_to_income(monthly_debts: Decimal, monthly_income: Decimal) -> Decimal:
    """Debts over income, to 4 decimals; :data:`NO_INCOME_DTI` without income."""
    if monthly_income <= 0:
        return NO_INCOME_DTI
    return min(NO_INCOME_DTI, to_ratio(monthly_debts / monthly_income))


def _check(income: Decimal, debts: Decimal, employment_status: str, config: ScoringConfig) -> None:
    if income < 0 or debts < 0:
        raise ValueError("monthly income and debts must not be negative")
    if employment_status not in dict(config.employment):
        raise ValueError(f"unknown employment status {employment_status!r}")


def assess(
    record: BureauRecord,
    monthly_income: Decimal,
    monthly_debts: Decimal,
    employment_status: str,
    config: ScoringConfig = ScoringConfig(),
) -> CreditAssessment:
    """Score an applicant.

    Monthly debts are the larger of what the applicant declared and what the bureau reports:
    the bureau is authoritative on the credits it knows, but an applicant may owe elsewhere
    (family, abroad). Taking the maximum rather than the sum avoids counting the same credit
    twice when the applicant declared it honestly. A record with ``found=False`` contributes
    nothing: an applicant unknown to the bureau is scored on the declared finances alone.
    """
    _check(monthly_income, monthly_debts, employment_status, config)
    if not record.found:
        record = UNKNOWN_TO_BUREAU
    debts = max(monthly_debts, record.open_credits_monthly)
    ratio = debt_to_income(debts, monthly_income)
    score = config.base - config.per_incident * record.payment_incidents
    score -= config.per_extra_open_credit * max(0, record.open_credits - config.free_open_credits)
    score += next(points for bound, points in config.dti_bands if ratio <= bound)
    score += dict(config.employment).get(employment_status, 0)
    return CreditAssessment(
        score=max(config.minimum, min(config.maximum, score)),
        payment_incidents=record.payment_incidents,
        open_credits=record.open_credits,
        monthly_income=monthly_income,
        monthly_debts=debts,
        debt_to_income=ratio,
        bureau_found=record.found,
    )

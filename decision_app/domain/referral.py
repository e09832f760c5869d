"""The referral bands: cases that pass every rule but lie just inside a limit go to the officers.

Why bands rather than a score: each band says which figure is borderline and by how much, so the
officers (and the applicant) read why the case was referred, as they read a rejection's reasons.
"""

from __future__ import annotations

from decimal import Decimal

from decision_app.domain.explained import Reason, percent
from decision_app.domain.facts import CreditFacts, PolicyConfig, PropertyFacts


def referral_bands(credit: CreditFacts, estate: PropertyFacts, dti: tuple[Decimal, Decimal],
                    config: PolicyConfig) -> list[tuple[dict[str, str], Reason]]:
    """The bands a case that passed every rule lies in, each with the reason an officer reads.

    Called only when no rule failed, so each band's upper bound (the limit) holds already. The
    debt-to-income compares the exact ratio, as its rule does (0.32996 is not in a band from 0.33);
    the loan-to-value compares the figure property_app published (4 decimals), the one shown.
    """
    bands: list[tuple[dict[str, str], Reason]] = []
    exact, shown = dti
    if exact >= config.refer_debt_to_income_from:
        bands.append((
            {"band": "debt_to_income", "value": str(shown), "from": str(config.refer_debt_to_income_from),
             "to": str(config.max_debt_to_income)},
            Reason("DEBT_TO_INCOME_NEAR_LIMIT", f"Your monthly repayments would be {percent(shown)} of your income, "
                   f"close to our maximum of {percent(config.max_debt_to_income)}: an officer reviews the "
                   "application.",
                   {"debt_to_income": str(shown), "refer_debt_to_income_from": str(config.refer_debt_to_income_from),
                    "max_debt_to_income": str(config.max_debt_to_income)})))
    if estate.loan_to_value > config.refer_loan_to_value_above:
        bands.append((
            {"band": "loan_to_value", "value": str(estate.loan_to_value),
             "from": str(config.refer_loan_to_value_above), "to": str(config.max_loan_to_value)},
            Reason("LOAN_TO_VALUE_NEAR_LIMIT", f"The loan is {percent(estate.loan_to_value)} of the estimated value "
                   f"of the property, above the {percent(config.refer_loan_to_value_above)} from which an officer "
                   "reviews the application.",
                   {"loan_to_value": str(estate.loan_to_value),
                    "refer_loan_to_value_above": str(config.refer_loan_to_value_above),
                    "max_loan_to_value": str(config.max_loan_to_value)})))
    floor, margin = config.min_credit_score, config.refer_credit_score_margin
    if credit.score < floor + margin:
        bands.append((
            {"band": "credit_score", "value": str(credit.score), "from": str(floor), "to": str(floor + margin)},
            Reason("CREDIT_SCORE_NEAR_MINIMUM", f"Your credit score ({credit.score}) is less than {margin} points "
                   f"above our minimum of {floor}: an officer reviews the application.",
                   {"credit_score": str(credit.score), "min_credit_score": str(floor),
                    "refer_credit_score_margin": str(margin)})))
    return bands

"""The officers' decision on a referred case (issue 15, "Officers decide the hard cases").

Two officers agreed (loan_app's four-eyes review); decision_app turns their decision into an
explained one: a rejection with their reasons, or an approval re-run by the rules on their terms
— the limits bind the officers too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from decision_app.domain.explained import OFFICERS, Decision, Reason, json_simple
from decision_app.domain.facts import CreditFacts, LoanRequest, PolicyConfig, PropertyFacts
from decision_app.domain.policy import decide, decimal_or_none
from lending.amortization import to_ratio

#: What the officers may decide on a referred case.
APPROVE, REJECT = "APPROVE", "REJECT"
#: The reason of an officers' rejection that states none (loan_app requires one; kept for safety).
OFFICERS_GENERIC_REJECTION = "The officers who reviewed your application decided not to grant the loan."


@dataclass(frozen=True)
class OfficersReview:
    """Two officers' decision on a referred case, as loan_app sends it in ``MakeDecision``.

    An approval may lower the amount and shorten the duration (``None``: the request's); a
    rejection states its reasons in words the applicant reads.
    """

    decision: str
    note: str = ""
    reasons: tuple[str, ...] = ()
    amount: Decimal | None = None
    duration_months: int | None = None
    proposed_by: str = ""
    confirmed_by: str = ""

    @classmethod
    def from_dict(cls, review: Mapping[str, Any]) -> OfficersReview:
        """Parse the message's ``review``; ``ValueError`` when it is not one (a producer's bug:
        the message is retried, then given up, and the round fails with ``DecisionFailed``)."""
        decision = review.get("decision")
        if decision not in (APPROVE, REJECT):
            raise ValueError(f"review decision must be {APPROVE} or {REJECT}, not {decision!r}")
        amount = decimal_or_none(review["amount"]) if review.get("amount") is not None else None
        months = review.get("duration_months")
        if (review.get("amount") is not None and (amount is None or amount <= 0)) or (
                months is not None and (isinstance(months, bool) or int(months) <= 0)):
            raise ValueError(f"review amount or duration is not positive: {review!r}")
        return cls(decision=decision, note=str(review.get("note") or ""),
                   reasons=tuple(str(reason) for reason in review.get("reasons") or ()), amount=amount,
                   duration_months=int(months) if months is not None else None,
                   proposed_by=str(review.get("proposed_by") or ""), confirmed_by=str(review.get("confirmed_by") or ""))


def loan_to_value(amount: Decimal, estimated_value: Decimal) -> Decimal:
    """The loan-to-value as property_app computes it (:func:`lending.amortization.to_ratio`)."""
    return to_ratio(amount / estimated_value)


def decide_by_officers(
    request: LoanRequest,
    credit: CreditFacts,
    property: PropertyFacts,
    review: OfficersReview,
    information: Mapping[str, Any] | None = None,
    config: PolicyConfig = PolicyConfig(),
    *,
    as_received: Mapping[str, Any] | None = None,
) -> Decision:
    """The decision two officers made on a referred case, under the policy's limits.

    A rejection carries the officers' reasons (``OFFICER_DECISION``). An approval is decided
    again on the reviewed loan (the officers' amount and duration, the loan-to-value recomputed
    for that amount) by the rules without the referral bands (the officers decided the
    borderline): the offer is recomputed to the cent by the same rules, and a limit that still
    fails (a shorter duration that pushes the debt-to-income above the maximum) rejects with the
    rules' reasons — the limits bind the officers too. The officers' decision never asks for
    information: a referral needs a known income, and the answers travel with the round.

    ``as_received`` (the message's review) is echoed in the decision; by default, this review.
    """
    echo = dict(as_received) if as_received is not None else json_simple(review)
    by_rules = replace(config, info_for_self_employed=False)
    if review.decision == REJECT:
        figures = decide(request, credit, property, information, by_rules, refer=False)
        texts = review.reasons or (OFFICERS_GENERIC_REJECTION,)
        return Decision("REJECTED", reasons=tuple(Reason("OFFICER_DECISION", text, {}) for text in texts),
                        inputs=figures.inputs, rules=figures.rules, policy_version=config.version,
                        decided_by=OFFICERS, review=echo)
    amount = review.amount if review.amount is not None else request.amount
    months = review.duration_months if review.duration_months is not None else request.duration_months
    reviewed = replace(request, amount=amount, duration_months=months)
    estate = property if property.estimated_value <= 0 else \
        replace(property, loan_to_value=loan_to_value(amount, property.estimated_value))
    decision = decide(reviewed, credit, estate, information, by_rules, refer=False)
    return replace(decision, decided_by=OFFICERS, review=echo)

"""decision_app's message handler: apply the lending policy to the evaluation's results.

The decision is pure (``decision_app.domain.policy.decide``); this module only feeds it the
facts from the message, and stores the explained result once per round, which records it for the
saga.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from common.messaging.envelope import Envelope
from common.messaging.recorder import Notice
from decision_app.adapters.repository import DecisionUnitOfWork
from decision_app.domain.policy import CreditFacts, LoanRequest, PolicyConfig, PropertyFacts, decide


def decide_from_message(data: dict[str, Any], config: PolicyConfig) -> dict[str, Any]:
    """The JSON-simple decision for a ``MakeDecision`` payload."""
    loan, applicant, credit, valuation = data["loan"], data["applicant"], data["credit"], data["valuation"]
    decision = decide(
        LoanRequest(
            amount=Decimal(loan["amount"]),
            duration_months=int(loan["duration_months"]),
            employment_status=applicant["employment_status"],
            monthly_income=Decimal(applicant["monthly_income"]),
            monthly_debts=Decimal(applicant["monthly_debts"]),
        ),
        CreditFacts(
            score=int(credit["score"]),
            payment_incidents=int(credit["payment_incidents"]),
            monthly_debts=Decimal(credit["monthly_debts"]),
            monthly_income=Decimal(credit["monthly_income"]),
        ),
        PropertyFacts(
            estimated_value=Decimal(valuation["estimated_value"]),
            loan_to_value=Decimal(valuation["loan_to_value"]),
        ),
        information=data.get("information") or None,
        config=config,
    )
    return decision.to_dict()


def make_decision(envelope: Envelope, uow: DecisionUnitOfWork, *, policy: PolicyConfig) -> None:
    """``MakeDecision``: decide the round once; the same round asked again gets the same answer.

    The decision is computed before it is known whether the round was decided (pure, and a round
    is asked again only on a redelivery or a replay): the first ask, nearly every one, writes it
    with a single statement; a round decided before keeps its stored answer, whatever this
    computation or a newer policy says.
    """
    round_ = int(envelope.data["round"])
    explained = decide_from_message(envelope.data, policy)
    decision = uow.decisions.insert_new({
        "application_id": envelope.application_id, "correlation_id": envelope.correlation_id, "round": round_,
        "outcome": explained["outcome"], "policy_version": explained["policy_version"], "explanation": explained,
    }) or uow.decisions.for_round(envelope.application_id or "", round_)
    if decision is None:  # pragma: no cover - the insert refused only because the round's row exists
        raise LookupError(f"round {round_} of {envelope.application_id} neither decided nor stored")
    decision.record("DecisionMade", {"decision": decision.explanation, "round": round_})


def decision_failed(envelope: Envelope, uow: DecisionUnitOfWork) -> None:
    """Give-up of ``MakeDecision``: the saga fails now, not at its deadline.

    No decision was made, so no row is written: the answer goes on a notice.
    """
    notice = uow.track(Notice.about(envelope))
    notice.record("DecisionFailed", {
        "code": "DECISION_FAILED",
        "message": "The decision could not be made; the evaluation was stopped.",
        "round": int(envelope.data["round"]),
    })

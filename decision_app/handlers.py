"""decision_app's message handler: apply the lending policy to the evaluation's results.

The decision is pure (``decision_app.domain.policy.decide``); this module only feeds it the
facts from the message, records the explained result once per round, and publishes it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from common.messaging.envelope import Envelope
from common.messaging.uow import UnitOfWork
from common.service.runtime import Handler, Runtime
from decision_app.adapters.orm import DecisionRecord
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


def message_handlers(runtime: Runtime) -> dict[str, Handler]:
    """``{message name: handler}`` for everything decision_app consumes."""
    config: PolicyConfig = runtime.adapters.setdefault("policy", PolicyConfig())

    def make_decision(envelope: Envelope, uow: UnitOfWork) -> None:
        round_ = int(envelope.data["round"])
        existing = uow.session.query(DecisionRecord).filter_by(
            application_id=envelope.application_id, round=round_
        ).one_or_none()
        if existing is not None:
            explained = existing.explanation  # same round asked again: the same answer
        else:
            explained = decide_from_message(envelope.data, config)
            uow.session.add(DecisionRecord(
                application_id=envelope.application_id,
                correlation_id=envelope.correlation_id,
                round=round_,
                outcome=explained["outcome"],
                policy_version=explained["policy_version"],
                explanation=explained,
            ))
        uow.publish("DecisionMade", {"decision": explained, "round": round_},
                    application_id=envelope.application_id, correlation_id=envelope.correlation_id)

    return {"MakeDecision": make_decision}


def give_up_handlers(runtime: Runtime) -> dict[str, Handler]:
    """What to publish when Dramatiq gives up on a decision: the saga fails now, not at its deadline."""

    def decision_failed(envelope: Envelope, uow: UnitOfWork) -> None:
        uow.publish("DecisionFailed", {
            "code": "DECISION_FAILED",
            "message": "The decision could not be made; the evaluation was stopped.",
            "round": int(envelope.data["round"]),
        }, application_id=envelope.application_id, correlation_id=envelope.correlation_id)

    return {"MakeDecision": decision_failed}

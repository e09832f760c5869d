"""decision_app's message handler: apply the lending policy to the evaluation's results.

The decision is pure (``decision_app.domain.policy``): ``decide`` by the rules, or
``decide_by_officers`` when the message carries the officers' ``review`` of a referred case.
This module only feeds it the facts from the message, and stores the explained result once per
round, with the facts it was made from, which records it for the saga.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.kernel.privacy import erase as erase_personal
from common.messaging.envelope import Envelope
from common.messaging.erasure import ErasureRequest
from common.messaging.recorder import Notice
from decision_app.adapters.orm import DecisionRecord
from decision_app.adapters.repository import DecisionUnitOfWork
from decision_app.domain.officers import OfficersReview, decide_by_officers
from decision_app.domain.policy import (
    SELF_EMPLOYED_ITEMS,
    CreditFacts,
    Decision,
    LoanRequest,
    PolicyConfig,
    PropertyFacts,
    decide,
)

#: The policy a handler applies: a fixed one (tests), or the store's ``current`` (the policy in
#: force, re-read every few seconds: decision_app.adapters.policy_store).
PolicySource = PolicyConfig | Callable[[Session], PolicyConfig]

#: What the policy reads of each part of ``MakeDecision``: the facts kept with a decision.
FACT_KEYS: dict[str, tuple[str, ...]] = {
    "loan": ("amount", "duration_months"),
    "applicant": ("employment_status", "monthly_income", "monthly_debts"),
    "credit": ("score", "payment_incidents", "monthly_debts", "monthly_income"),
    "valuation": ("estimated_value", "loan_to_value"),
}


def facts_of(data: Mapping[str, Any]) -> dict[str, Any]:
    """The facts a decision is made from (``MakeDecision`` without ``round``), to store with it.

    Only what the policy reads, by name, so that a shadow run can decide them again and nothing
    else is kept: the applicant's finances, the credit and valuation figures, the declared
    incomes, the officers' review (staff usernames and their words). No name, e-mail, birth date
    or address is among them, which is why an erasure has nothing to erase in ``decisions``
    (decision_app.bootstrap).
    """
    facts: dict[str, Any] = {part: {key: data[part][key] for key in keys if key in data[part]}
                             for part, keys in FACT_KEYS.items()}
    answers = data.get("information") or {}
    facts["information"] = {name: answers[name] for name, _ in SELF_EMPLOYED_ITEMS if name in answers}
    if data.get("review"):
        facts["review"] = data["review"]
    return facts


def decision_for(data: Mapping[str, Any], config: PolicyConfig) -> Decision:
    """The decision for a ``MakeDecision`` payload (or the facts stored with a decision)."""
    loan, applicant, credit, valuation = data["loan"], data["applicant"], data["credit"], data["valuation"]
    request = LoanRequest(
        amount=Decimal(loan["amount"]),
        duration_months=int(loan["duration_months"]),
        employment_status=applicant["employment_status"],
        monthly_income=Decimal(applicant["monthly_income"]),
        monthly_debts=Decimal(applicant["monthly_debts"]),
    )
    facts = CreditFacts(
        score=int(credit["score"]),
        payment_incidents=int(credit["payment_incidents"]),
        monthly_debts=Decimal(credit["monthly_debts"]),
        monthly_income=Decimal(credit["monthly_income"]),
    )
    estate = PropertyFacts(
        estimated_value=Decimal(valuation["estimated_value"]),
        loan_to_value=Decimal(valuation["loan_to_value"]),
    )
    information = data.get("information") or None
    review = data.get("review")
    if review:
        return decide_by_officers(request, facts, estate, OfficersReview.from_dict(review), information, config,
                                  as_received=review)
    return decide(request, facts, estate, information=information, config=config)


def decide_from_message(data: dict[str, Any], config: PolicyConfig) -> dict[str, Any]:
    """The JSON-simple decision for a ``MakeDecision`` payload."""
    return decision_for(data, config).to_dict()


def make_decision(envelope: Envelope, uow: DecisionUnitOfWork, *, policy: PolicySource) -> None:
    """``MakeDecision``: decide the round once; the same round asked again gets the same answer.

    The decision is computed before it is known whether the round was decided (pure, and a round
    is asked again only on a redelivery or a replay): the first ask, nearly every one, writes it
    with a single statement; a round decided before keeps its stored answer, whatever this
    computation or a newer policy says. The officers' decision of a referred case comes as a new
    round (loan_app counts it), so it is decided once too.
    """
    config = policy if isinstance(policy, PolicyConfig) else policy(uow.session)  # read in this transaction
    round_ = int(envelope.data["round"])
    explained = decide_from_message(envelope.data, config)
    decision = uow.decisions.insert_new({
        "application_id": envelope.application_id, "correlation_id": envelope.correlation_id, "round": round_,
        "outcome": explained["outcome"], "policy_version": explained["policy_version"], "explanation": explained,
        "decided_by": explained["decided_by"], "facts": facts_of(envelope.data),
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


def erase(uow: DecisionUnitOfWork, application_id: str, request: ErasureRequest) -> None:
    """decision_app's anonymiser (``PersonalData.erase``): the officers' notes of a reviewed case
    (free text in the echoed ``review``) are erased from its decisions; the finances, outcome and
    reasons stay, as in every service (docs/privacy.md)."""
    rows = uow.session.scalars(select(DecisionRecord).where(DecisionRecord.application_id == application_id)
                               .with_for_update()).all()
    for row in rows:
        row.explanation, row.facts = erase_personal(row.explanation), erase_personal(row.facts)

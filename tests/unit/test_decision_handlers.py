"""decision_app's handlers on an in-memory unit of work: a round decided once (the officers' round
too), the facts kept with it, a decision given up."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

import pytest

from common.messaging.contracts import consumed_by
from common.service.runtime import Runtime
from decision_app import handlers
from decision_app.adapters.orm import DecisionRecord
from decision_app.adapters.policy_store import PolicyStore
from decision_app.bootstrap import bootstrap
from decision_app.domain.policy import PolicyConfig
from decision_app.service import definition
from tests.conftest import make_settings
from tests.unit.fakes import FakeRepository, FakeUnitOfWork, applied, envelope

FACTS = {
    "loan": {"amount": "200000", "duration_months": 240},
    "applicant": {"employment_status": "permanent", "monthly_income": "5200.00", "monthly_debts": "0.00"},
    "credit": {"score": 720, "payment_incidents": 0, "open_credits": 0, "monthly_income": "5200.00",
               "monthly_debts": "0.00", "debt_to_income": "0.0000", "bureau_found": True},
    "valuation": {"estimated_value": "360000.00", "price_per_m2": "4800.00", "loan_to_value": "0.5556",
                  "reference": "city:Lyon", "adjustments": []},
    "information": {},
}
POLICY = PolicyConfig()


class FakeDecisions(FakeRepository):
    def for_round(self, application_id: str, round_: int) -> DecisionRecord | None:
        return self.find(application_id=application_id, round=round_)

    def insert_new(self, values: dict[str, Any]) -> DecisionRecord | None:
        if self.for_round(values["application_id"], values["round"]) is not None:
            return None
        self.add(DecisionRecord(**values))
        return self.for_round(values["application_id"], values["round"])


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(decisions=FakeDecisions)


def decide(uow: FakeUnitOfWork, round_: int = 1, policy: PolicyConfig = POLICY, **changes: Any) -> FakeUnitOfWork:
    data = {**FACTS, **changes, "round": round_}
    return applied(partial(handlers.make_decision, policy=policy), envelope("MakeDecision", data), uow)


#: The credit facts of a case referred for its debt-to-income: 1215.06 / 3650 = 33.29 %.
NEAR_LIMIT = {**FACTS["credit"], "monthly_income": "3650.00"}
REVIEW = {"decision": "APPROVE", "note": "Stable job.", "reasons": [], "amount": "180000.00", "duration_months": None,
          "proposed_by": "anne", "proposed_at": "2026-12-06T10:00:00+00:00", "confirmed_by": "bruno"}


def test_a_round_is_decided_once_and_asked_again_gets_the_same_answer(uow: FakeUnitOfWork) -> None:
    decide(uow)
    decide(uow, policy=replace(POLICY, version="another"))  # asked again: the stored answer, not a new one
    [decision] = uow.decisions.rows
    assert decision.outcome == "APPROVED" and decision.policy_version == POLICY.version
    assert [(m.name, m.payload) for m in uow.outbox] == [
        ("DecisionMade", {"decision": decision.explanation, "round": 1})] * 2


def test_a_decision_keeps_the_facts_it_was_made_from_and_nothing_personal(uow: FakeUnitOfWork) -> None:
    personal = {**FACTS["applicant"], "full_name": "Alice Propre", "email": "alice@example.org",
                "birth_date": "1992-04-15"}
    decide(uow, applicant=personal, information={"declared_income_year_1": "1", "other": "x"})
    [decision] = uow.decisions.rows
    assert decision.decided_by == "rules" and decision.explanation["decided_by"] == "rules"
    assert decision.facts == {
        "loan": {"amount": "200000", "duration_months": 240},
        "applicant": {"employment_status": "permanent", "monthly_income": "5200.00", "monthly_debts": "0.00"},
        "credit": {"score": 720, "payment_incidents": 0, "monthly_debts": "0.00", "monthly_income": "5200.00"},
        "valuation": {"estimated_value": "360000.00", "loan_to_value": "0.5556"},
        "information": {"declared_income_year_1": "1"},
    }
    # The stored facts decide the same again (what a shadow run relies on).
    assert handlers.decide_from_message(decision.facts, POLICY) == decision.explanation


def test_the_officers_round_is_decided_once_on_their_terms(uow: FakeUnitOfWork) -> None:
    decide(uow, credit=NEAR_LIMIT)
    decide(uow, round_=2, credit=NEAR_LIMIT, review=REVIEW)
    decide(uow, round_=2, credit=NEAR_LIMIT, review={**REVIEW, "decision": "REJECT"})  # redelivered: same answer
    referred, approved = uow.decisions.rows
    assert (referred.outcome, referred.decided_by) == ("REFERRED", "rules")
    assert [reason["code"] for reason in referred.explanation["reasons"]] == ["DEBT_TO_INCOME_NEAR_LIMIT"]
    assert (approved.outcome, approved.decided_by, approved.round) == ("APPROVED", "officers", 2)
    assert approved.explanation["review"] == REVIEW and approved.facts["review"] == REVIEW
    assert approved.explanation["offer"]["amount"] == "180000.00" and approved.explanation["referral"] == []
    assert [(m.payload["round"], m.payload["decision"]["outcome"]) for m in uow.outbox] == [
        (1, "REFERRED"), (2, "APPROVED"), (2, "APPROVED")]


def test_the_policy_may_be_a_source_read_per_message(uow: FakeUnitOfWork) -> None:
    versions = iter([replace(POLICY, version="one"), replace(POLICY, version="two")])
    for round_ in (1, 2):
        applied(partial(handlers.make_decision, policy=lambda session: next(versions)),
                envelope("MakeDecision", {**FACTS, "round": round_}), uow)
    assert [d.policy_version for d in uow.decisions.rows] == ["one", "two"]


def test_a_new_round_is_a_new_decision(uow: FakeUnitOfWork) -> None:
    decide(uow)
    decide(uow, round_=2)
    assert [d.round for d in uow.decisions.rows] == [1, 2]
    assert [m.payload["round"] for m in uow.outbox] == [1, 2]


def test_a_decision_given_up_fails_the_round_without_a_row(uow: FakeUnitOfWork) -> None:
    applied(handlers.decision_failed, envelope("MakeDecision", {"round": "3"}), uow)
    assert uow.decisions.rows == []
    assert [(m.name, m.payload["code"], m.payload["round"]) for m in uow.outbox] == [
        ("DecisionFailed", "DECISION_FAILED", 3)]


def test_the_bootstrap_binds_the_policy_the_web_side_shows() -> None:
    rt = Runtime(definition(), make_settings("decision", "sqlite://"))
    try:
        policy = replace(POLICY, version="test")
        bindings = bootstrap(rt, policy=policy)
        assert set(bindings.handlers) == {spec.name for spec in consumed_by("decision")}
        assert set(bindings.on_give_up) == {"MakeDecision"}
        assert bindings.dependencies.policy is policy and rt.bindings.dependencies.policy == PolicyConfig()
        # The policy in force is the store's: the built-in one until a version is published.
        assert isinstance(bindings.dependencies.policies, PolicyStore)
        assert bindings.dependencies.policies.builtin is policy
        assert bindings.handlers["MakeDecision"].keywords["policy"] == bindings.dependencies.policies.current
    finally:
        rt.dispose()

"""decision_app's handlers on an in-memory unit of work: a round decided once, a decision given up."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

import pytest

from common.messaging.contracts import consumed_by
from common.service.runtime import Runtime
from decision_app import handlers
from decision_app.adapters.orm import DecisionRecord
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


def decide(uow: FakeUnitOfWork, round_: int = 1, policy: PolicyConfig = POLICY) -> FakeUnitOfWork:
    return applied(partial(handlers.make_decision, policy=policy), envelope("MakeDecision", {**FACTS, "round": round_}),
                   uow)


def test_a_round_is_decided_once_and_asked_again_gets_the_same_answer(uow: FakeUnitOfWork) -> None:
    decide(uow)
    decide(uow, policy=replace(POLICY, version="another"))  # asked again: the stored answer, not a new one
    [decision] = uow.decisions.rows
    assert decision.outcome == "APPROVED" and decision.policy_version == POLICY.version
    assert [(m.name, m.payload) for m in uow.outbox] == [
        ("DecisionMade", {"decision": decision.explanation, "round": 1})] * 2


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
    finally:
        rt.dispose()

"""The application aggregate and its state machine, without any database or broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from loan_app.domain.model import Application, Deadlines
from loan_app.domain.status import ALLOWED, TERMINAL, InvalidTransition, Status
from tests.support.payloads import application as body

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LIMITS = Deadlines(step=timedelta(minutes=2), information=timedelta(days=7))
CREDIT = {"score": 700, "payment_incidents": 0, "open_credits": 0, "monthly_income": "5200.00",
          "monthly_debts": "0.00", "debt_to_income": "0", "bureau_found": True}
VALUE = {"estimated_value": "360000.00", "price_per_m2": "4800", "loan_to_value": "0.55", "reference": "x",
         "adjustments": []}


def new(**changes: dict) -> Application:
    data = body(**changes)
    return Application("app-1", data["applicant"], data["property"], Decimal(data["loan"]["amount"]),
                       data["loan"]["duration_months"], "app-1", NOW, LIMITS)


def names(app: Application) -> list[str]:
    return [m.name for m in app.messages]


def evaluated(app: Application) -> Application:
    app.start_evaluation(NOW, LIMITS)
    app.record_credit(1, "inq-1", CREDIT, NOW, LIMITS)
    app.record_valuation(1, VALUE, NOW, LIMITS)
    return app


def test_terminal_states_have_no_way_out() -> None:
    assert all(not ALLOWED[status] for status in TERMINAL)
    assert Status.APPROVED.terminal and not Status.DECIDING.terminal


def test_submission_records_history_and_announces_itself() -> None:
    app = new()
    assert app.status == "SUBMITTED"
    assert names(app) == ["ApplicationStatusChanged", "ApplicationSubmitted"]
    assert app.history[0].seq == 1 and app.history[0].from_status is None


def test_a_submission_starts_its_evaluation_in_the_same_change() -> None:
    app = new()
    app.start_evaluation(NOW, LIMITS)  # before the first commit, as loan_app.commands.submit does
    assert app.status == "EVALUATING" and app.round == 1 and app.correlation_id == "app-1"
    assert [(h.seq, h.from_status, h.to_status) for h in app.history] == [
        (1, None, "SUBMITTED"), (2, "SUBMITTED", "EVALUATING")]
    assert names(app) == ["ApplicationStatusChanged", "ApplicationSubmitted", "ApplicationStatusChanged",
                          "CheckCredit", "ValueProperty"]
    changes = [m.payload for m in app.messages if m.name == "ApplicationStatusChanged"]
    assert [(c["seq"], c["status"], c["previous_status"]) for c in changes] == [
        (1, "SUBMITTED", None), (2, "EVALUATING", "SUBMITTED")]
    assert app.credit == {"status": "PENDING"} and app.valuation == {"status": "PENDING"}
    assert app.deadline == NOW + LIMITS.step


def test_evaluation_sends_both_steps_with_a_deadline() -> None:
    app = new()
    app.messages.clear()
    app.start_evaluation(NOW, LIMITS)
    assert names(app) == ["ApplicationStatusChanged", "CheckCredit", "ValueProperty"]
    assert app.deadline == NOW + LIMITS.step
    app.messages.clear()
    app.start_evaluation(NOW, LIMITS)  # a duplicate start changes nothing
    assert app.messages == []


def test_decision_is_asked_once_both_results_are_in_whatever_their_order() -> None:
    app = new()
    app.start_evaluation(NOW, LIMITS)
    app.record_valuation(1, VALUE, NOW, LIMITS)
    assert app.status == "EVALUATING"
    app.record_credit(1, "inq-1", CREDIT, NOW, LIMITS)
    assert app.status == "DECIDING"
    decide = [m for m in app.messages if m.name == "MakeDecision"]
    assert len(decide) == 1 and decide[0].payload["round"] == 1
    assert "status" not in decide[0].payload["credit"]


def test_decision_outcomes() -> None:
    approved = evaluated(new())
    approved.record_decision(1, {"outcome": "APPROVED", "offer": {"monthly_payment": "1"}, "reasons": []}, NOW,
                             LIMITS)
    assert approved.status == "APPROVED" and approved.deadline is None
    assert approved.messages[-1].payload["offer"] == {"monthly_payment": "1"}
    rejected = evaluated(new())
    reasons = [{"code": "PAYMENT_INCIDENT", "message": "…"}]
    rejected.record_decision(1, {"outcome": "REJECTED", "reasons": reasons}, NOW, LIMITS)
    assert rejected.messages[-1].payload["reasons"] == reasons


def test_information_request_then_answer_starts_round_two() -> None:
    app = evaluated(new(applicant={"employment_status": "self_employed"}))
    items = [{"name": "declared_income_year_1", "description": "d", "type": "decimal"}]
    app.record_decision(1, {"outcome": "INFO_REQUESTED", "requested_information": items}, NOW, LIMITS)
    assert app.status == "INFO_REQUESTED" and app.deadline == NOW + LIMITS.information
    app.supply_information({"declared_income_year_1": "50000.00"}, NOW, LIMITS)
    assert app.status == "DECIDING" and app.round == 2
    assert app.messages[-1].payload["information"] == {"declared_income_year_1": "50000.00"}
    app.record_decision(1, {"outcome": "APPROVED"}, NOW, LIMITS)  # the old round's answer: ignored
    assert app.status == "DECIDING"
    with pytest.raises(InvalidTransition):
        new().supply_information({}, NOW, LIMITS)


def test_withdraw_compensates_and_cannot_happen_twice() -> None:
    app = new()
    app.start_evaluation(NOW, LIMITS)
    app.withdraw(NOW)
    assert app.status == "WITHDRAWN"
    assert "CancelCreditInquiry" in names(app)
    with pytest.raises(InvalidTransition):
        app.withdraw(NOW)


def test_withdraw_before_evaluation_has_nothing_to_compensate() -> None:
    app = new()
    app.withdraw(NOW)
    assert "CancelCreditInquiry" not in names(app)


def test_failed_step_fails_once_and_late_results_change_nothing() -> None:
    app = new()
    app.start_evaluation(NOW, LIMITS)
    app.step_failed("valuation", "VALUATION_UNAVAILABLE", "No price.", NOW)
    assert app.status == "FAILED" and app.failure["code"] == "VALUATION_UNAVAILABLE"
    assert "CancelCreditInquiry" in names(app)
    count = len(app.history)
    app.step_failed("credit", "CREDIT_CHECK_UNAVAILABLE", "x", NOW)
    app.record_credit(1, "inq-1", CREDIT, NOW, LIMITS)
    assert len(app.history) == count and app.status == "FAILED"


def test_deadlines_fail_steps_and_expire_requests() -> None:
    app = new()
    app.start_evaluation(NOW, LIMITS)
    assert not app.expire_if_overdue(NOW + timedelta(minutes=1))
    assert app.expire_if_overdue(NOW + timedelta(minutes=3))
    assert app.status == "FAILED" and app.failure["code"] == "STEP_TIMEOUT"
    assert not app.expire_if_overdue(NOW + timedelta(days=30))
    waiting = evaluated(new())
    waiting.record_decision(1, {"outcome": "INFO_REQUESTED", "requested_information": []}, NOW, LIMITS)
    assert waiting.expire_if_overdue(NOW + timedelta(days=8))
    assert waiting.status == "EXPIRED"


def test_every_transition_is_numbered_in_order() -> None:
    app = evaluated(new())
    app.record_decision(1, {"outcome": "REJECTED", "reasons": []}, NOW, LIMITS)
    changes = [m.payload for m in app.messages if m.name == "ApplicationStatusChanged"]
    assert [c["seq"] for c in changes] == [1, 2, 3, 4]
    assert [c["status"] for c in changes] == ["SUBMITTED", "EVALUATING", "DECIDING", "REJECTED"]
    assert changes[1]["previous_status"] == "SUBMITTED"

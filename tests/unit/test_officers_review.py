"""The officers' review of a referral, on the aggregate: claim, propose, four eyes, escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.kernel.working_time import WorkingCalendar
from loan_app.domain.model import Application, Deadlines
from loan_app.domain.review import Officer, Proposal, ReviewRefused, ReviewTerms, Timing
from tests.unit.test_application_model import NOW, evaluated, new

TERMS = ReviewTerms(WorkingCalendar.parse("00:00-24:00", "mon-sun", "UTC"), hours=8, at_risk_fraction=0.25)
LIMITS = Deadlines(step=timedelta(minutes=2), information=timedelta(days=7), review=TERMS)
ANNE, BRUNO, SARA = Officer("anne"), Officer("bruno"), Officer("sara", supervisor=True)
REFERRAL = {"outcome": "REFERRED", "policy_version": "2026.12",
            "reasons": [{"code": "DEBT_TO_INCOME_NEAR_LIMIT", "message": "close", "params": {}}],
            "offer": {"amount": "200000"}, "rules": [], "inputs": {}}
APPROVE = Proposal("APPROVE", "income stable for ten years", amount="180000.00")


def referred() -> Application:
    app = evaluated(new())
    app.record_decision(1, REFERRAL, NOW, LIMITS)
    app.messages.clear()
    return app


def last_message(app: Application, name: str) -> dict[str, Any]:
    return [m.payload for m in app.messages if m.name == name][-1]


def refused(reason: str, action: Any, *args: Any) -> None:
    with pytest.raises(ReviewRefused) as caught:
        action(*args)
    assert caught.value.reason == reason


def test_a_referral_waits_for_officers_with_its_due_time_and_no_deadline() -> None:
    app = evaluated(new())
    app.record_decision(1, REFERRAL, NOW, LIMITS)
    assert app.status == "REFERRED" and app.deadline is None  # the expiry job never ends it
    assert app.review is not None and app.review["state"] == "OPEN"
    assert app.review["due_at"] == (NOW + timedelta(hours=8)).isoformat()
    change = last_message(app, "ApplicationStatusChanged")
    assert change["status"] == "REFERRED" and change["review"] == {"due_at": app.review["due_at"]}
    assert change["reasons"][0]["code"] == "DEBT_TO_INCOME_NEAR_LIMIT"
    assert not app.expire_if_overdue(NOW + timedelta(days=30))


def test_four_eyes_claim_propose_then_a_second_officer_confirms() -> None:
    app = referred()
    app.claim_review(ANNE, NOW)
    app.claim_review(ANNE, NOW)  # again: no change
    refused("CLAIMED_BY_ANOTHER", app.claim_review, BRUNO, NOW)
    refused("NOT_CLAIMED_BY_YOU", app.propose_review, BRUNO, APPROVE, NOW)
    app.propose_review(ANNE, APPROVE, NOW)
    refused("PROPOSAL_PENDING", app.propose_review, ANNE, APPROVE, NOW)
    refused("SELF_CONFIRMATION", app.confirm_review, ANNE, "", NOW, LIMITS)
    app.confirm_review(BRUNO, "agreed", NOW, LIMITS)
    assert app.status == "DECIDING" and app.round == 2 and app.review["state"] == "CONFIRMED"
    ask = last_message(app, "MakeDecision")
    assert ask["round"] == 2 and ask["review"]["decision"] == "APPROVE" and ask["review"]["amount"] == "180000.00"
    assert ask["review"]["proposed_by"] == "anne" and ask["review"]["confirmed_by"] == "bruno"
    assert [e["action"] for e in app.review["events"]] == ["referred", "claimed", "proposed", "confirmed"]
    # The review round's answer decides; a referral of it again changes nothing.
    app.record_decision(2, {**REFERRAL}, NOW, LIMITS)
    assert app.status == "DECIDING"
    app.record_decision(2, {"outcome": "APPROVED", "offer": {"amount": "180000.00"}, "reasons": []}, NOW, LIMITS)
    assert app.status == "APPROVED"


def test_a_proposal_sent_back_returns_to_its_proposer() -> None:
    app = referred()
    app.claim_review(ANNE, NOW)
    app.propose_review(ANNE, Proposal("REJECT", "too tight", reasons=("Your budget is too tight.",)), NOW)
    refused("SELF_CONFIRMATION", app.send_back_review, ANNE, "x", NOW)
    app.send_back_review(BRUNO, "the income rose last year", NOW)
    assert app.review["state"] == "CLAIMED" and app.review["claimed_by"] == "anne" and app.review["proposal"] is None
    refused("NO_PROPOSAL", app.confirm_review, BRUNO, "", NOW, LIMITS)
    assert app.status == "REFERRED"


def test_an_overdue_review_is_escalated_once_and_then_only_supervisors_act() -> None:
    app = referred()
    app.claim_review(ANNE, NOW)
    assert not app.escalate_if_overdue(NOW + timedelta(hours=7))
    assert app.escalate_if_overdue(NOW + timedelta(hours=8))
    assert not app.escalate_if_overdue(NOW + timedelta(hours=9))
    assert app.status == "REFERRED"  # never decided automatically
    refused("ESCALATED_TO_SUPERVISOR", app.propose_review, ANNE, APPROVE, NOW)
    app.claim_review(SARA, NOW)  # a supervisor takes it over
    assert app.review["claimed_by"] == "sara"
    app.propose_review(SARA, APPROVE, NOW)
    refused("ESCALATED_TO_SUPERVISOR", app.confirm_review, BRUNO, "", NOW, LIMITS)
    app.confirm_review(Officer("sam", supervisor=True), "", NOW, LIMITS)
    assert app.status == "DECIDING"


def test_actions_on_an_application_not_referred_are_refused() -> None:
    app = evaluated(new())
    refused("NOT_REFERRED", app.claim_review, ANNE, NOW)


def test_a_referral_may_be_withdrawn() -> None:
    app = referred()
    app.withdraw(NOW)
    assert app.status == "WITHDRAWN"


def test_proposal_errors_name_the_fields() -> None:
    assert Proposal("APPROVE", "n", amount="250000").errors("200000.00", 240) == {
        "amount": ["An approval may lower the amount, not raise it (requested 200000.00)."]}
    assert "duration_months" in Proposal("APPROVE", "n", duration_months=300).errors("200000.00", 240)
    assert "reasons" in Proposal("REJECT", "n").errors("200000.00", 240)
    assert Proposal("APPROVE", "n", amount="150000", duration_months=180).errors("200000.00", 240) == {}


def test_timing_counts_working_time_left() -> None:
    due = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
    assert TERMS.timing(due, due - timedelta(hours=3)) is Timing.ON_TIME
    assert TERMS.timing(due, due - timedelta(hours=2)) is Timing.AT_RISK
    assert TERMS.timing(due, due) is Timing.OVERDUE


def test_erasure_forgets_the_officers_notes_and_keeps_the_decision() -> None:
    app = referred()
    app.claim_review(ANNE, NOW)
    app.propose_review(ANNE, Proposal("REJECT", "Mr X told me about his divorce", reasons=("Too tight.",)), NOW)
    app.confirm_review(BRUNO, "seen", NOW, LIMITS)
    decision = {"outcome": "REJECTED", "reasons": [{"code": "OFFICER_DECISION", "message": "Too tight."}],
                "review": {**app.review["proposal"], "confirmed_by": "bruno"}}
    app.record_decision(2, decision, NOW, LIMITS)
    app.erase_personal_data({"reason": "request"})
    assert app.review["proposal"]["note"] is None and all(e.get("note") is None for e in app.review["events"])
    assert app.decision["review"]["note"] is None
    assert app.decision["reasons"][0]["message"] == "Too tight." and app.review["proposal"]["proposed_by"] == "anne"

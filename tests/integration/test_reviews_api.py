"""The officers' review over HTTP on real PostgreSQL: the queue, claim, propose, four eyes, refusals,
the audit trail, escalation of an overdue review, and the metric the alert watches.

The saga's messages are delivered by hand (tests/support/messages.py); the whole flow on the real
stack with the decision service is in tests/e2e/test_referrals.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from common.identity.roles import OFFICER, OPERATOR, SUPERVISOR
from common.kernel.review_settings import ReviewSettings
from common.service.entrypoints import web_app
from loan_app import reviews
from loan_app.adapters.orm import TABLES
from tests.conftest import make_settings, staff_token
from tests.support.databases import truncate_all
from tests.support.messages import deliver, outbox
from tests.support.payloads import application

REFERRAL = {"outcome": "REFERRED", "policy_version": "2026.12", "decided_by": "rules",
            "reasons": [{"code": "DEBT_TO_INCOME_NEAR_LIMIT", "message": "Close to the limit.", "params": {}}],
            "offer": {"amount": "200000.00", "duration_months": 240}, "rules": [{"rule": "debt_to_income",
                                                                              "passed": True, "value": "0.34",
                                                                              "threshold": "0.35"}],
            "inputs": {"debt_to_income": "0.34"}, "referral": [{"band": "debt_to_income", "value": "0.34",
                                                                "from": "0.33", "to": "0.35"}]}


def bearer(role: str, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {staff_token(role, username)}"}


ANNE, BRUNO, SARA = bearer(OFFICER, "anne"), bearer(OFFICER, "bruno"), bearer(SUPERVISOR, "sara")


def client_with(pg_urls: dict[str, str], **review: Any) -> Iterator[FlaskClient]:
    truncate_all("loan", pg_urls["loan"])
    settings = make_settings("loan", pg_urls["loan"])
    if review:
        settings = settings.with_overrides(review=ReviewSettings(**review))
    app = web_app("loan", settings)
    yield app.test_client()
    app.extensions["loanflow.runtime"].dispose()


@pytest.fixture
def loan(pg_urls: dict[str, str]) -> Iterator[FlaskClient]:
    yield from client_with(pg_urls)


def referred(loan: FlaskClient) -> str:
    """A submitted application taken to REFERRED by the saga's messages."""
    accepted = loan.post("/loan/applications", json=application()).json
    rt, application_id = loan.application.extensions["loanflow.runtime"], accepted["id"]
    deliver(rt, "CreditChecked", application_id, {"inquiry_id": "b-1", "round": 1, "assessment": {
        "score": 720, "payment_incidents": 0, "open_credits": 0, "monthly_income": "3573.00",
        "monthly_debts": "0.00", "debt_to_income": "0.0000", "bureau_found": True}})
    deliver(rt, "PropertyValued", application_id, {"round": 1, "valuation": {
        "estimated_value": "375000.00", "price_per_m2": "5000.00", "loan_to_value": "0.5333",
        "reference": "city:Lyon", "adjustments": []}})
    deliver(rt, "DecisionMade", application_id, {"round": 1, "decision": REFERRAL})
    return str(application_id)


def post(loan: FlaskClient, application_id: str, action: str, who: dict[str, str], body: Any = None) -> Any:
    path = f"/loan/applications/{application_id}/review" + (f"/{action}" if action else "")
    return loan.post(path, json=body if body is not None else {}, headers=who)


def test_the_queue_lists_a_referral_with_its_explanation_and_due_time(loan: FlaskClient) -> None:
    application_id = referred(loan)
    queue = loan.get("/loan/referrals", headers=ANNE)
    assert queue.status_code == 200
    (item,) = queue.json
    assert item["id"] == application_id and item["status"] == "REFERRED"
    assert item["reasons"][0]["code"] == "DEBT_TO_INCOME_NEAR_LIMIT"
    assert item["explanation"]["rules"][0]["threshold"] == "0.35" and item["explanation"]["referral"]
    assert item["timing"] in ("on_time", "at_risk") and item["due_at"] and item["review"]["state"] == "OPEN"
    assert loan.get("/loan/referrals?timing=overdue", headers=ANNE).json == []
    assert loan.get("/loan/referrals", headers=bearer(OPERATOR, "olga")).status_code == 403
    assert loan.get("/loan/referrals").status_code == 401
    # The applicant and staff read the status with the review's due time.
    assert loan.get(f"/loan/applications/{application_id}", headers=ANNE).json["status"] == "REFERRED"


def test_four_eyes_over_http_with_every_answer_saying_its_state(loan: FlaskClient) -> None:
    application_id = referred(loan)
    claimed = post(loan, application_id, "claim", ANNE)
    assert claimed.status_code == 200 and claimed.json["outcome"] == "done"
    assert claimed.json["review"]["claimed_by"] == "anne"
    taken = post(loan, application_id, "claim", BRUNO)
    assert taken.status_code == 409 and taken.json["errors"] == {"outcome": "refused", "reason": "CLAIMED_BY_ANOTHER"}
    higher = post(loan, application_id, "", ANNE, {"decision": "APPROVE", "note": "n", "amount": 250000})
    assert higher.status_code == 422 and "amount" in higher.json["errors"]["json"]
    proposed = post(loan, application_id, "", ANNE, {"decision": "APPROVE", "note": "stable income",
                                                     "amount": 180000, "duration_months": 240})
    assert proposed.status_code == 200 and proposed.json["outcome"] == "waiting_for_second_officer"
    own = post(loan, application_id, "confirm", ANNE)
    assert own.status_code == 409 and own.json["errors"]["reason"] == "SELF_CONFIRMATION"
    assert own.json["errors"]["outcome"] == "refused"
    confirmed = post(loan, application_id, "confirm", BRUNO, {"note": "agreed"})
    assert confirmed.status_code == 200 and confirmed.json["outcome"] == "done"
    assert confirmed.json["status"] == "DECIDING"
    rt = loan.application.extensions["loanflow.runtime"]
    ask = [row.payload for row in outbox(rt, application_id) if row.message_type == "MakeDecision"][-1]
    assert ask["round"] == 2 and ask["review"]["amount"] == "180000.00" and ask["review"]["confirmed_by"] == "bruno"
    with rt.session_factory() as session:
        audit = session.execute(select(TABLES.audit.operator, TABLES.audit.action)
                                .where(TABLES.audit.target == application_id).order_by(TABLES.audit.id)).all()
    assert [tuple(row) for row in audit] == [("anne", "review_claim"), ("anne", "review_propose"),
                                             ("bruno", "review_confirm")]
    assert loan.get("/loan/referrals", headers=ANNE).json == []  # no longer waiting


def test_bad_proposals_and_unknown_applications(loan: FlaskClient) -> None:
    application_id = referred(loan)
    post(loan, application_id, "claim", ANNE)
    for body in ({"decision": "MAYBE", "note": "n"}, {"decision": "REJECT", "note": ""},
                 {"decision": "APPROVE", "note": "n", "extra": 1}, {"decision": "APPROVE", "note": "n",
                                                                     "duration_months": "240"}):
        assert post(loan, application_id, "", ANNE, body).status_code == 422, body
    rejected = post(loan, application_id, "", ANNE, {"decision": "REJECT", "note": "n"})
    assert rejected.status_code == 422 and "reasons" in rejected.json["errors"]["json"]
    unknown = "00000000-0000-4000-8000-000000000000"
    assert post(loan, unknown, "claim", ANNE).status_code == 404
    back = post(loan, application_id, "send-back", BRUNO, {"note": "why"})
    assert back.status_code == 409 and back.json["errors"]["reason"] == "NO_PROPOSAL"


def test_an_overdue_review_is_escalated_counted_and_left_to_supervisors(pg_urls: dict[str, str]) -> None:
    for loan in client_with(pg_urls, hours=0.0005, working_hours="00:00-24:00", working_days="mon-sun",
                            timezone="UTC"):
        application_id = referred(loan)
        post(loan, application_id, "claim", ANNE)
        rt = loan.application.extensions["loanflow.runtime"]
        time.sleep(2)  # 0.0005 working hours = 1.8 s
        assert reviews.escalate_overdue(rt) == 1 and reviews.escalate_overdue(rt) == 0
        (item,) = loan.get("/loan/referrals?timing=overdue", headers=ANNE).json
        assert item["escalated"] and item["status"] == "REFERRED"  # never decided automatically
        refused = post(loan, application_id, "", ANNE, {"decision": "APPROVE", "note": "late"})
        assert refused.status_code == 409 and refused.json["errors"]["reason"] == "ESCALATED_TO_SUPERVISOR"
        assert post(loan, application_id, "claim", SARA).json["review"]["claimed_by"] == "sara"
        metrics = loan.get("/loan/metrics", headers=bearer(OPERATOR, "olga")).get_data(as_text=True)
        assert 'loanflow_reviews{escalated="true",timing="overdue"} 1.0' in metrics


def test_a_confirmation_note_may_be_empty_but_never_hides_characters(loan: FlaskClient) -> None:
    application_id = referred(loan)
    post(loan, application_id, "claim", ANNE)
    post(loan, application_id, "", ANNE, {"decision": "APPROVE", "note": "fine"})
    hidden = post(loan, application_id, "confirm", BRUNO, {"note": "ok\u202egnp.exe"})
    assert hidden.status_code == 422 and "note" in hidden.json["errors"]["json"]
    assert post(loan, application_id, "confirm", BRUNO).json["outcome"] == "done"  # no body: no note

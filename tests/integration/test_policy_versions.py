"""Policy versions on decision's PostgreSQL database (issue 15): an admin creates a draft, tries it
on past decisions (shadow run), publishes it; workers apply it within seconds, without a restart.

decision's Flask app for the HTTP side; decisions made through the real consumer path
(``apply_once`` with the runtime's bound handler and a real unit of work).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from common.identity.roles import ADMIN, OFFICER, OPERATOR
from common.messaging.outbox import new_id
from common.service.entrypoints import load_definition, web_app
from common.service.runtime import Runtime
from decision_app.adapters.policy_store import REFRESH_SECONDS
from decision_app.domain.policy import PolicyConfig
from decision_app.handlers import decide_from_message
from tests.conftest import make_settings, staff_token
from tests.support.databases import sql, sql_value, truncate_all
from tests.support.messages import deliver

D = Decimal
ADMIN_HEADERS = {"Authorization": f"Bearer {staff_token(ADMIN, 'ada')}"}
OFFICER_HEADERS = {"Authorization": f"Bearer {staff_token(OFFICER, 'olga')}"}
BUILT_IN = PolicyConfig()


@pytest.fixture
def app(pg_urls: dict[str, str]) -> Iterator[Flask]:
    truncate_all("decision", pg_urls["decision"])
    built = web_app("decision", make_settings("decision", pg_urls["decision"]))
    yield built
    built.extensions["loanflow.runtime"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def rt(app: Flask) -> Runtime:
    runtime: Runtime = app.extensions["loanflow.runtime"]
    return runtime


def facts(income: str = "5200.00", score: int = 720, amount: str = "200000", value: str = "375000.00"
          ) -> dict[str, Any]:
    """A ``MakeDecision`` payload (without ``round``) as loan_app sends it."""
    ltv = (D(amount) / D(value)).quantize(D("0.0001"), ROUND_HALF_UP)
    return {
        "loan": {"amount": amount, "duration_months": 240},
        "applicant": {"employment_status": "permanent", "monthly_income": income, "monthly_debts": "0.00"},
        "credit": {"score": score, "payment_incidents": 0, "open_credits": 0, "monthly_income": income,
                   "monthly_debts": "0.00", "debt_to_income": "0.0000", "bureau_found": True},
        "valuation": {"estimated_value": value, "price_per_m2": "5000.00", "loan_to_value": str(ltv),
                      "reference": "city:Lyon", "adjustments": []},
        "information": {},
    }


def decided(rt: Runtime, payload: dict[str, Any], round_: int = 1, application_id: str | None = None) -> str:
    """Decide ``payload`` through the consumer path; returns the application id."""
    application_id = application_id or new_id()
    assert deliver(rt, "MakeDecision", application_id, {**payload, "round": round_})
    return application_id


def create(client: FlaskClient, version: str, headers: dict[str, str] = ADMIN_HEADERS, **body: Any) -> Any:
    return client.post("/decision/policies", json={"version": version, **body}, headers=headers)


def audit(client: FlaskClient) -> list[tuple[str, str, str]]:
    trail = client.get("/decision/operator-actions", headers=ADMIN_HEADERS).json
    return [(row["operator"], row["action"], row["target"]) for row in trail]


def test_the_built_in_policy_is_in_force_until_a_version_is_published(client: FlaskClient) -> None:
    listed = client.get("/decision/policies", headers=OFFICER_HEADERS)
    assert listed.status_code == 200
    [built_in] = listed.json
    assert built_in | {"thresholds": None} == {
        "version": "2026.12", "status": "published", "active": True, "thresholds": None,
        "note": built_in["note"], "created_by": "built-in", "created_at": None, "published_by": "built-in",
        "published_at": None}
    assert built_in["thresholds"]["refer_debt_to_income_from"] == "0.33"
    policy = client.get("/decision/policy").json
    assert policy == {"version": "2026.12", **built_in["thresholds"]}
    assert client.get("/decision/policies").status_code == 401
    operator = {"Authorization": f"Bearer {staff_token(OPERATOR)}"}
    assert client.get("/decision/policies", headers=operator).status_code == 403


def test_a_draft_is_validated_and_merged_with_the_policy_in_force(client: FlaskClient) -> None:
    assert create(client, "2027.01", OFFICER_HEADERS, thresholds={"nope": 1}).status_code == 403
    invalid: list[tuple[dict[str, Any], str]] = [
        ({"max_debt_to_income": 0.3}, "max_debt_to_income"),  # a number: decimals are strings
        ({"max_debt_to_income": "2.5"}, "max_debt_to_income"),
        ({"max_loan_to_value": "0"}, "max_loan_to_value"),
        ({"refer_loan_to_value_above": "0.90\n"}, "refer_loan_to_value_above"),
        ({"min_credit_score": "650"}, "min_credit_score"),
        ({"min_credit_score": 900}, "min_credit_score"),
        ({"refer_credit_score_margin": True}, "refer_credit_score_margin"),
        ({"info_for_self_employed": "yes"}, "info_for_self_employed"),
        ({"rate_grid": []}, "rate_grid"),
        ({"rate_grid": [{"up_to_months": 300}]}, "rate_grid"),
        ({"insurance_rate": "1.5"}, "insurance_rate"),
        ({"unknown_threshold": "1"}, "unknown_threshold"),
    ]
    for thresholds, field in invalid:
        answer = create(client, "2027.01", thresholds=thresholds)
        assert answer.status_code == 422, thresholds
        assert list(answer.json["errors"]["json"]["thresholds"]) == [field], answer.json
    for version in ("bad name", "x" * 33, ""):
        assert set(create(client, version).json["errors"]["json"]) == {"version"}
    assert set(create(client, "2027.01", colour="red").json["errors"]["json"]) == {"colour"}
    # In range, but contradicting the policy in force once merged with it: 409, by field.
    band = create(client, "2027.01", thresholds={"refer_debt_to_income_from": "0.36"})
    assert band.status_code == 409 and band.json["errors"]["reason"] == "POLICY_INCONSISTENT"
    assert list(band.json["errors"]["json"]["thresholds"]) == ["refer_debt_to_income_from"]
    limit = create(client, "2027.01", thresholds={"max_debt_to_income": "0.30"})
    assert list(limit.json["errors"]["json"]["thresholds"]) == ["max_debt_to_income"]
    grid = create(client, "2027.01", thresholds={"rate_grid": [{"up_to_months": 240, "annual_rate": "0.035"}]})
    assert list(grid.json["errors"]["json"]["thresholds"]) == ["rate_grid"]
    assert create(client, "2026.12").json["errors"] == {"reason": "VERSION_EXISTS"}

    created = create(client, "2027.01", thresholds={"refer_debt_to_income_from": "0.30", "min_credit_score": 650},
                     note="Tighter after the Q4 review.")
    assert created.status_code == 201, created.json
    assert created.json | {"created_at": None, "thresholds": None} == {
        "version": "2027.01", "status": "draft", "active": False, "thresholds": None,
        "note": "Tighter after the Q4 review.", "created_by": "ada", "created_at": None,
        "published_by": None, "published_at": None}
    expected = replace(BUILT_IN, version="2027.01", refer_debt_to_income_from=D("0.30"), min_credit_score=650)
    assert created.json["thresholds"]["refer_debt_to_income_from"] == "0.30"
    assert created.json["thresholds"]["max_debt_to_income"] == str(expected.max_debt_to_income)
    assert created.json["thresholds"]["rate_grid"] == [{"up_to_months": m, "annual_rate": str(r)}
                                                       for m, r in expected.rate_grid]
    assert create(client, "2027.01").status_code == 409
    assert [v["version"] for v in client.get("/decision/policies", headers=OFFICER_HEADERS).json] == [
        "2027.01", "2026.12"]
    assert client.get("/decision/policy").json["version"] == "2026.12"  # a draft applies to nothing
    assert audit(client) == [("ada", "policy.create", "2027.01")]


def test_publishing_puts_a_version_in_force_and_may_bring_an_older_one_back(client: FlaskClient) -> None:
    assert create(client, "2027.01", thresholds={"min_credit_score": 650}).status_code == 201
    assert client.post("/decision/policies/nope/publish", headers=ADMIN_HEADERS).status_code == 404
    assert client.post("/decision/policies/2027.01/publish", headers=OFFICER_HEADERS).status_code == 403
    published = client.post("/decision/policies/2027.01/publish", headers=ADMIN_HEADERS)
    assert published.status_code == 200
    assert (published.json["status"], published.json["active"], published.json["published_by"]) == (
        "published", True, "ada")
    policy = client.get("/decision/policy").json
    assert (policy["version"], policy["min_credit_score"]) == ("2027.01", 650)
    statuses = {v["version"]: v["status"] for v in client.get("/decision/policies", headers=ADMIN_HEADERS).json}
    assert statuses == {"2027.01": "published", "2026.12": "retired"}
    again = client.post("/decision/policies/2027.01/publish", headers=ADMIN_HEADERS)
    assert again.status_code == 200 and again.json == published.json  # unchanged, and not audited again
    back = client.post("/decision/policies/2026.12/publish", headers=ADMIN_HEADERS)
    assert back.status_code == 200 and back.json["active"] and back.json["created_by"] == "ada"
    assert client.get("/decision/policy").json == {"version": "2026.12", **back.json["thresholds"]}
    statuses = {v["version"]: v["status"] for v in client.get("/decision/policies", headers=ADMIN_HEADERS).json}
    assert statuses == {"2027.01": "retired", "2026.12": "published"}
    assert audit(client) == [("ada", "policy.publish", "2026.12"), ("ada", "policy.publish", "2027.01"),
                             ("ada", "policy.create", "2027.01")]


def test_a_shadow_run_reports_what_the_candidate_would_change_and_writes_nothing(
        client: FlaskClient, rt: Runtime) -> None:
    payloads = {
        "comfortable": facts(),                  # DTI 23 %: approved either way
        "near_30": facts(income="3900.00"),      # DTI 31.2 %: approved, referred from 30 %
        "score_690": facts(score=690),           # approved, rejected under a minimum of 700
        "near_33": facts(income="3650.00"),      # DTI 33.3 %: referred either way
    }
    ids = {name: decided(rt, payload) for name, payload in payloads.items()}
    # The officers decided the referred case's next round: a decision the shadow run leaves out.
    review = {"decision": "APPROVE", "note": "ok", "reasons": [], "amount": None, "duration_months": None,
              "proposed_by": "anne", "confirmed_by": "bruno"}
    decided(rt, {**payloads["near_33"], "review": review}, round_=2, application_id=ids["near_33"])
    # A decision made before the facts were kept.
    old = new_id()
    url = rt.settings.database_url
    sql(url, "INSERT INTO decisions (id, application_id, round, outcome, policy_version, explanation, created_at, "
             "decided_by) VALUES (:id, :app, 1, 'APPROVED', '2026.11', '{}', now() - interval '1 day', 'rules')",
        id=new_id(), app=old)
    candidate = {"refer_debt_to_income_from": "0.30", "min_credit_score": 700}
    assert create(client, "2027.01", thresholds=candidate).status_code == 201
    before = (sql_value(url, "SELECT count(*) FROM decisions"), sql_value(url, "SELECT count(*) FROM outbox"))

    assert client.post("/decision/policies/2027.01/shadow", json={}, headers=OFFICER_HEADERS).status_code == 403
    assert client.post("/decision/policies/nope/shadow", json={}, headers=ADMIN_HEADERS).status_code == 404
    assert client.post("/decision/policies/2027.01/shadow", json={"limit": 0}, headers=ADMIN_HEADERS
                       ).status_code == 422
    report = client.post("/decision/policies/2027.01/shadow", json={}, headers=ADMIN_HEADERS)
    assert report.status_code == 200, report.json

    # The same comparison, made here independently of decision_app.policies.
    tighter = replace(BUILT_IN, version="2027.01", refer_debt_to_income_from=D("0.30"), min_credit_score=700)
    expected = set()
    for name, payload in payloads.items():
        then, now = decide_from_message(payload, BUILT_IN), decide_from_message(payload, tighter)
        if then["outcome"] != now["outcome"]:
            expected.add((ids[name], 1, "2026.12", then["outcome"], now["outcome"],
                          tuple(reason["code"] for reason in now["reasons"])))
    assert {(c["application_id"], c["round"], c["policy_version"], c["from"], c["to"], tuple(c["reasons"]))
            for c in report.json["changed"]} == expected == {
        (ids["near_30"], 1, "2026.12", "APPROVED", "REFERRED", ("DEBT_TO_INCOME_NEAR_LIMIT",)),
        (ids["score_690"], 1, "2026.12", "APPROVED", "REJECTED", ("CREDIT_SCORE_TOO_LOW",))}
    assert report.json | {"changed": None} == {
        "version": "2027.01", "decisions": 4, "unchanged": 2, "skipped": 1, "changed": None,
        "transitions": {"APPROVED→REFERRED": 1, "APPROVED→REJECTED": 1}}
    assert all(change["decided_at"] for change in report.json["changed"])
    # Nothing written but the audit record.
    assert (sql_value(url, "SELECT count(*) FROM decisions"), sql_value(url, "SELECT count(*) FROM outbox")) == before
    assert audit(client)[0] == ("ada", "policy.shadow", "2027.01")

    # limit: the most recent decisions only; since: those made since then.
    recent = client.post("/decision/policies/2027.01/shadow", json={"limit": 2}, headers=ADMIN_HEADERS).json
    assert recent["decisions"] == 2 and recent["skipped"] == 0
    later = client.post("/decision/policies/2027.01/shadow", json={"since": "2100-01-01T00:00:00+00:00"},
                        headers=ADMIN_HEADERS).json
    assert (later["decisions"], later["skipped"], later["changed"]) == (0, 0, [])
    # The built-in version may be shadow-run too: what it decided, it decides again.
    same = client.post("/decision/policies/2026.12/shadow", json={}, headers=ADMIN_HEADERS).json
    assert (same["decisions"], same["unchanged"], same["changed"]) == (4, 4, [])


def test_a_worker_applies_a_newly_published_version_within_seconds_without_a_query_per_decision(
        client: FlaskClient, pg_urls: dict[str, str]) -> None:
    """The worker is another process's runtime (its own cache); the admin publishes on the web app."""
    worker = Runtime(load_definition("decision"), make_settings("decision", pg_urls["decision"]))
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "policy_versions" in statement:
            reads.append(statement)

    event.listen(worker.engine, "before_cursor_execute", count)
    try:
        url = pg_urls["decision"]
        first = decided(worker, facts(score=690))
        assert sql_value(url, "SELECT policy_version || ' ' || outcome FROM decisions WHERE application_id = :a",
                         a=first) == "2026.12 APPROVED"
        started = time.monotonic()
        for _ in range(30):
            decided(worker, facts())
        assert len(reads) <= 1 + int((time.monotonic() - started) / REFRESH_SECONDS) + 1, reads

        assert create(client, "2027.02", thresholds={"min_credit_score": 700}).status_code == 201
        assert client.post("/decision/policies/2027.02/publish", headers=ADMIN_HEADERS).status_code == 200
        published, answers = time.monotonic(), []
        while time.monotonic() - published < REFRESH_SECONDS + 3:
            application_id = decided(worker, facts(score=690))
            answers.append(sql_value(url, "SELECT policy_version || ' ' || outcome FROM decisions "
                                          "WHERE application_id = :a", a=application_id))
            if answers[-1] != "2026.12 APPROVED":
                break
            time.sleep(0.1)
        assert answers[-1] == "2027.02 REJECTED", answers
        assert time.monotonic() - published <= REFRESH_SECONDS + 1
    finally:
        worker.dispose()

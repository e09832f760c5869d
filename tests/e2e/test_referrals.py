"""Officers decide the hard cases, on the real stack (issue 15): referral, four eyes, deadlines.

Real gunicorn, Dramatiq workers, RabbitMQ, PostgreSQL, SMTP. Officers are accounts made by the
stack's admin and sign in through the gateway. A referred application is claimed by one officer,
approved with a lower amount, refused when its proposer confirms it, confirmed by another; its
offer is recomputed to the cent by the same rules and the documents match it. A rejection carries
the officers' reasons. An overdue review is escalated, counted in loan's metrics, and those
metrics make Prometheus' own rule fire (``promtool test rules`` over the scraped value).
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import textwrap
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from lending.amortization import loan_cost, to_cents
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, ROOT
from tests.e2e.conftest import Client
from tests.support.payloads import application
from tests.support.polling import TERMINAL, eventually
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow]
PASSWORD = "a-long-password-for-reviews"
#: A debt-to-income of about 34 %: inside the default referral band (33 % up to the 35 % limit).
REFERRED_BODY = application(applicant={"monthly_income": "3573.00", "email": "referred@example.org"})


def sign_in(stack: Stack, username: str, password: str) -> str:
    answer = requests.post(f"{stack.gateway}/auth/token", json={"username": username, "password": password},
                           timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


@pytest.fixture(scope="module")
def officers(stack: Stack) -> dict[str, dict[str, str]]:
    """Bearer headers of two officers and a supervisor, each signed in through the gateway."""
    admin = {"Authorization": f"Bearer {sign_in(stack, ADMIN_USERNAME, ADMIN_PASSWORD)}"}
    found = {}
    for username, role in (("rev-anne", "officer"), ("rev-bruno", "officer"), ("rev-sara", "supervisor")):
        created = requests.post(f"{stack.gateway}/auth/accounts", headers=admin, timeout=10,
                                json={"username": username, "password": PASSWORD, "role": role})
        assert created.status_code in (201, 409), created.text
        found[username] = {"Authorization": f"Bearer {sign_in(stack, username, PASSWORD)}"}
    return found


def act(stack: Stack, application_id: str, action: str, who: dict[str, str], body: Any = None) -> requests.Response:
    path = f"{stack.gateway}/loan/applications/{application_id}/review" + (f"/{action}" if action else "")
    return requests.post(path, json=body if body is not None else {}, headers=who, timeout=10)


def referred(client: Client, body: dict[str, Any] = REFERRED_BODY) -> dict[str, Any]:
    accepted = client.submit(body)
    state = client.wait_for(accepted, {"REFERRED", *TERMINAL})
    assert state["status"] == "REFERRED", state["history"]
    return accepted


def test_a_referral_approved_with_a_lower_amount_by_two_officers(client: Client, stack: Stack,
                                                                  officers: dict[str, dict[str, str]]) -> None:
    anne, bruno = officers["rev-anne"], officers["rev-bruno"]
    accepted = referred(client)
    application_id = accepted["id"]
    queue = requests.get(f"{stack.gateway}/loan/referrals", headers=anne, timeout=10).json()
    item = next(item for item in queue if item["id"] == application_id)
    assert {reason["code"] for reason in item["reasons"]} == {"DEBT_TO_INCOME_NEAR_LIMIT"}
    assert item["due_at"] and item["timing"] in ("on_time", "at_risk") and not item["escalated"]
    assert any(rule["rule"] == "debt_to_income" for rule in item["explanation"]["rules"])

    assert act(stack, application_id, "claim", anne).json()["outcome"] == "done"
    proposed = act(stack, application_id, "", anne, {"decision": "APPROVE", "note": "ten years in the same job",
                                                     "amount": 180000})
    assert proposed.status_code == 200 and proposed.json()["outcome"] == "waiting_for_second_officer"
    own = act(stack, application_id, "confirm", anne)
    assert own.status_code == 409
    assert own.json()["errors"] == {"outcome": "refused", "reason": "SELF_CONFIRMATION"}
    confirmed = act(stack, application_id, "confirm", bruno, {"note": "agreed"})
    assert confirmed.status_code == 200 and confirmed.json()["outcome"] == "done"

    body = client.wait_for(accepted, TERMINAL)
    assert body["status"] == "APPROVED", body["history"]
    offer = body["decision"]["offer"]
    rate = Decimal(offer["annual_rate"])
    cost = loan_cost(Decimal("180000.00"), rate, 240)
    assert Decimal(offer["amount"]) == Decimal("180000.00") and offer["duration_months"] == 240
    assert Decimal(offer["monthly_payment"]) == cost.monthly_payment
    assert Decimal(offer["total_interest"]) == cost.total_interest
    assert Decimal(offer["monthly_insurance"]) == to_cents(Decimal("180000") * Decimal("0.0030") / 12)
    assert body["decision"]["decided_by"] == "officers"
    # The documents were made from the new offer.
    auth = {"Authorization": f"Bearer {accepted['access_token']}"}
    documents = eventually(lambda: requests.get(f"{stack.gateway}/notify/applications/{application_id}/documents",
                                                headers=auth, timeout=5).json(), lambda found: len(found) == 2)
    link = next(d["url"] for d in documents if d["kind"] == "schedule_csv")
    rows = list(csv.reader(io.StringIO(requests.get(stack.gateway + link, timeout=5).content.decode())))
    assert len(rows) == 240 + 2 and Decimal(rows[-1][3]) == Decimal(offer["total_interest"])
    assert [h["status"] for h in body["history"]][-3:] == ["REFERRED", "DECIDING", "APPROVED"]


def test_a_referral_rejected_with_the_officers_reasons(client: Client, stack: Stack,
                                                       officers: dict[str, dict[str, str]]) -> None:
    anne, bruno = officers["rev-anne"], officers["rev-bruno"]
    accepted = referred(client)
    application_id = accepted["id"]
    act(stack, application_id, "claim", bruno)
    reason = "Your repayments would leave too little to live on."
    proposed = act(stack, application_id, "", bruno, {"decision": "REJECT", "note": "tight", "reasons": [reason]})
    assert proposed.json()["outcome"] == "waiting_for_second_officer"
    sent_back = act(stack, application_id, "send-back", anne, {"note": "say which figure"})
    assert sent_back.json()["outcome"] == "done" and sent_back.json()["review"]["state"] == "CLAIMED"
    act(stack, application_id, "", bruno, {"decision": "REJECT", "note": "tight, DTI 34 %", "reasons": [reason]})
    assert act(stack, application_id, "confirm", anne).json()["outcome"] == "done"
    body = client.wait_for(accepted, TERMINAL)
    assert body["status"] == "REJECTED"
    assert [(r["code"], r["message"]) for r in body["decision"]["reasons"]] == [("OFFICER_DECISION", reason)]


@pytest.fixture
def short_reviews(stack: Stack) -> Iterator[None]:
    """loan_web and loan_worker with reviews due 3.6 s after the referral, round the clock."""
    review = {"LOANFLOW_REVIEW_HOURS": "0.001", "LOANFLOW_WORKING_HOURS": "00:00-24:00",
              "LOANFLOW_WORKING_DAYS": "mon-sun", "LOANFLOW_WORKING_TIMEZONE": "UTC"}
    stack.env.update(review)
    try:
        stack.stop("loan_web", "loan_worker")
        stack.start("loan_web", "loan_worker")
        stack.wait_ready()
        yield
    finally:
        for key in review:
            stack.env.pop(key, None)
        stack.stop("loan_web", "loan_worker")
        stack.start("loan_web", "loan_worker")
        stack.wait_ready()


def test_an_overdue_review_is_escalated_and_raises_its_alert(client: Client, stack: Stack, short_reviews: None,
                                                             officers: dict[str, dict[str, str]],
                                                             tmp_path: Path) -> None:
    anne, sara = officers["rev-anne"], officers["rev-sara"]
    accepted = referred(client)
    application_id = accepted["id"]
    act(stack, application_id, "claim", anne)

    def overdue() -> list[dict[str, Any]]:
        return [item for item in requests.get(f"{stack.gateway}/loan/referrals?timing=overdue", headers=anne,
                                              timeout=10).json() if item["id"] == application_id]

    (item,) = eventually(overdue, lambda found: bool(found) and found[0]["escalated"], timeout=30)
    assert item["status"] == "REFERRED"  # escalated, never decided automatically
    late = act(stack, application_id, "", anne, {"decision": "APPROVE", "note": "late"})
    assert late.status_code == 409 and late.json()["errors"]["reason"] == "ESCALATED_TO_SUPERVISOR"

    # loan's metrics (scraped from the web process, as Prometheus does) count it ...
    metrics = requests.get(f"{stack.service('loan')}/loan/metrics", timeout=10).text
    line = next(line for line in metrics.splitlines()
                if line.startswith("loanflow_reviews{") and 'timing="overdue"' in line and 'escalated="true"' in line)
    value = float(line.rsplit(" ", 1)[1])
    assert value >= 1
    # ... and Prometheus' own rule, evaluated by promtool over that value, fires.
    fires_on(value, tmp_path)

    # A supervisor takes it over; four eyes still hold for escalated reviews.
    assert act(stack, application_id, "claim", sara).json()["review"]["claimed_by"] == "rev-sara"
    act(stack, application_id, "", sara, {"decision": "APPROVE", "note": "fine"})
    assert act(stack, application_id, "confirm", sara).json()["errors"]["reason"] == "SELF_CONFIRMATION"


def fires_on(value: float, tmp_path: Path) -> None:
    """``promtool test rules``: deploy/prometheus/alerts.yml fires LoanflowReviewsOverdue on ``value``."""
    promtool = shutil.which("promtool")
    if promtool is None:
        subprocess.run(["bash", str(ROOT / "deploy/local/ensure_tools.sh")], check=True, capture_output=True,
                       timeout=900)
        promtool = shutil.which("promtool")
    assert promtool, "promtool could not be installed (deploy/local/ensure_tools.sh)"
    shutil.copy(ROOT / "deploy/prometheus/alerts.yml", tmp_path / "alerts.yml")
    (tmp_path / "scraped_test.yml").write_text(textwrap.dedent(f"""\
        rule_files: [alerts.yml]
        evaluation_interval: 30s
        tests:
          - interval: 30s
            input_series:
              - series: 'loanflow_reviews{{instance="loan-web:8001", timing="overdue", escalated="true"}}'
                values: '{value:g}x6'
            alert_rule_test:
              - eval_time: 2m
                alertname: LoanflowReviewsOverdue
                exp_alerts:
                  - exp_labels: {{severity: warning}}
                    exp_annotations:
                      summary: "{value:g} referral reviews are past their due time"
                      description: >-
                        Referred applications wait for officers beyond their due time (working hours); they
                        were escalated to the supervisors (officers' dashboard, escalated first).
                      runbook: docs/operations.md#reviews-overdue
        """))
    result = subprocess.run([promtool, "test", "rules", "scraped_test.yml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_shadow_run_reports_what_a_new_version_would_change_then_it_is_published(
        client: Client, stack: Stack) -> None:
    """A stricter version tried on the stack's past decisions: the report names each decision it
    would change, agrees with the unchanged ones, and writes nothing; published, the next
    application is decided by it (the workers pick it up without a restart)."""
    admin = {"Authorization": f"Bearer {sign_in(stack, ADMIN_USERNAME, ADMIN_PASSWORD)}"}
    approved = client.submit(application())  # debt-to-income 23 %: approved by the built-in policy
    assert client.wait_for(approved, TERMINAL)["status"] == "APPROVED"
    rejected = client.submit(application(applicant={"full_name": "Paul Defaut", "birth_date": "1975-03-12"}))
    assert client.wait_for(rejected, TERMINAL)["status"] == "REJECTED"
    built_in = requests.get(f"{stack.gateway}/decision/policy", timeout=10).json()["version"]
    version = f"e2e-strict-{approved['id'][:8]}"
    created = requests.post(f"{stack.gateway}/decision/policies", headers=admin, timeout=10,
                            json={"version": version, "thresholds": {"refer_debt_to_income_from": "0.20"},
                                  "note": "refer from 20 %"})
    assert created.status_code == 201, created.text
    report = requests.post(f"{stack.gateway}/decision/policies/{version}/shadow", headers=admin, json={"limit": 10000},
                           timeout=60).json()
    changed = {change["application_id"]: change for change in report["changed"]}
    assert (changed[approved["id"]]["from"], changed[approved["id"]]["to"]) == ("APPROVED", "REFERRED")
    assert "DEBT_TO_INCOME_NEAR_LIMIT" in changed[approved["id"]]["reasons"]
    assert rejected["id"] not in changed  # a payment incident rejects under both versions
    assert report["unchanged"] + len(report["changed"]) + report["skipped"] == report["decisions"]
    assert report["transitions"].get("APPROVED→REFERRED", 0) >= 1
    assert sum(report["transitions"].values()) == len(report["changed"])
    try:
        assert requests.post(f"{stack.gateway}/decision/policies/{version}/publish", headers=admin,
                             timeout=10).status_code == 200
        eventually(lambda: requests.get(f"{stack.gateway}/decision/policy", timeout=10).json()["version"],
                   lambda found: found == version)
        time.sleep(2.5)  # every worker re-reads the policy in force at most every 2 s
        again = client.submit(application())
        body = client.wait_for(again, {"REFERRED", *TERMINAL})
        assert body["status"] == "REFERRED" and body["decision"]["policy_version"] == version
    finally:
        requests.post(f"{stack.gateway}/decision/policies/{built_in}/publish", headers=admin, timeout=10)
        time.sleep(2.5)

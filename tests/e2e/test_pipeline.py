"""End to end: applications driven through the gateway to every outcome, on real processes.

Every service runs as in production (gunicorn, dramatiq workers hosting the outbox relays, the bureau
simulator, the gateway), on RabbitMQ and PostgreSQL. Outcomes are checked from the outside.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from tests.conftest import STAFF_TOKEN
from tests.e2e.conftest import Client
from tests.support.databases import sql
from tests.support.payloads import application
from tests.support.polling import TERMINAL, eventually
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]


def codes(body: dict) -> set[str]:
    return {reason["code"] for reason in body["decision"]["reasons"]}


def test_approval_with_an_exact_offer(client: Client) -> None:
    accepted = client.submit(application())
    body = client.wait_for(accepted, TERMINAL)
    assert body["status"] == "APPROVED", body
    offer = body["decision"]["offer"]
    assert Decimal(offer["total_cost"]) == Decimal("200000.00") + Decimal(offer["total_interest"])
    assert Decimal(offer["monthly_payment"]) > 0
    assert [h["status"] for h in body["history"]] == ["SUBMITTED", "EVALUATING", "DECIDING", "APPROVED"]
    assert body["credit"]["score"] >= 600
    assert body["valuation"]["estimated_value"]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"applicant": {"monthly_income": "1800.00"}}, "DEBT_TO_INCOME_TOO_HIGH"),
        ({"loan": {"duration_months": 360}}, "DURATION_TOO_LONG"),
        ({"property": {"surface_m2": "20"}, "loan": {"amount": "400000"},
          "applicant": {"monthly_income": "20000.00"}}, "LOAN_TO_VALUE_TOO_HIGH"),
        ({"applicant": {"full_name": "Paul Defaut", "birth_date": "1975-03-12"}}, "PAYMENT_INCIDENT"),
        ({"applicant": {"full_name": "Claire Retard", "birth_date": "1982-07-24"}}, "CREDIT_SCORE_TOO_LOW"),
    ],
)
def test_each_rejection_reason(client: Client, changes: dict, code: str) -> None:
    body = client.wait_for(client.submit(application(**changes)), TERMINAL)
    assert body["status"] == "REJECTED", body
    assert code in codes(body)
    assert all(reason["message"] for reason in body["decision"]["reasons"])


def test_self_employed_are_asked_for_income_then_approved(client: Client) -> None:
    accepted = client.submit(application(applicant={"employment_status": "self_employed"}))
    body = client.wait_for(accepted, TERMINAL | {"INFO_REQUESTED"})
    assert body["status"] == "INFO_REQUESTED", body
    names = {item["name"] for item in body["requested_information"]}
    assert names == {"declared_income_year_1", "declared_income_year_2"}
    bad = client.post(accepted, "information", {"declared_income_year_1": "lots"})
    assert bad.status_code == 422
    assert set(bad.json()["errors"]["json"]) == {"declared_income_year_1", "declared_income_year_2"}
    answer = client.post(accepted, "information", {"declared_income_year_1": "64000",
                                                    "declared_income_year_2": "60000"})
    assert answer.status_code == 200, answer.text
    body = client.wait_for(accepted, TERMINAL)
    assert body["status"] == "APPROVED", body
    statuses = [h["status"] for h in body["history"]]
    assert statuses == ["SUBMITTED", "EVALUATING", "DECIDING", "INFO_REQUESTED", "EVALUATING", "DECIDING",
                        "APPROVED"]


def test_an_unanswered_information_request_expires_through_the_periodic_job(client: Client, stack: Stack) -> None:
    accepted = client.submit(application(applicant={"employment_status": "self_employed"}))
    assert client.wait_for(accepted, TERMINAL | {"INFO_REQUESTED"})["status"] == "INFO_REQUESTED"
    # The applicant never answers. Rather than wait days, the deadline is moved into the past in
    # loan's database; from there it is the periodic job hosted by loan_worker that must end it.
    moved = sql(stack.urls["loan"], "UPDATE applications SET deadline = now() - interval '1 second' "
                                    "WHERE id = :id AND status = 'INFO_REQUESTED' RETURNING id", id=accepted["id"])
    assert len(moved) == 1
    body = client.wait_for(accepted, TERMINAL, timeout=30)
    assert body["status"] == "EXPIRED", body
    assert [h["status"] for h in body["history"]][-2:] == ["INFO_REQUESTED", "EXPIRED"]
    auth = {"Authorization": f"Bearer {accepted['access_token']}"}
    url = f"{stack.gateway}/notify/applications/{accepted['id']}/notifications"
    told = eventually(lambda: [n["status"] for n in requests.get(url, headers=auth, timeout=5).json()],
                      lambda statuses: "EXPIRED" in statuses)
    assert told[-1] == "EXPIRED"  # the applicant was told


def test_withdrawal_during_evaluation(client: Client) -> None:
    accepted = client.submit(application())
    response = client.post(accepted, "withdraw")
    assert response.status_code == 200
    body = client.wait_for(accepted, TERMINAL)
    assert body["status"] == "WITHDRAWN"
    assert client.post(accepted, "withdraw").status_code == 409


def test_unknown_location_fails_and_cancels_the_credit_inquiry(client: Client, stack: Stack) -> None:
    accepted = client.submit(application(property={"postcode": "98000", "city": "Nowhere"}))
    body = client.wait_for(accepted, TERMINAL)
    assert body["status"] == "FAILED"
    assert body["failure"]["code"] == "VALUATION_UNAVAILABLE"
    staff = {"Authorization": f"Bearer {STAFF_TOKEN}"}
    inquiry = eventually(
        lambda: requests.get(f"{stack.gateway}/credit/inquiries/{accepted['id']}", headers=staff, timeout=5),
        lambda response: response.status_code == 200 and response.json()["status"] == "CANCELLED")
    assert inquiry.status_code == 200 and inquiry.json()["status"] == "CANCELLED", inquiry.text


def test_notify_logged_every_transition_in_order(client: Client, stack: Stack) -> None:
    accepted = client.submit(application())
    body = client.wait_for(accepted, TERMINAL)
    auth = {"Authorization": f"Bearer {accepted['access_token']}"}
    url = f"{stack.gateway}/notify/applications/{accepted['id']}/notifications"
    logged = eventually(lambda: [n["status"] for n in requests.get(url, headers=auth, timeout=5).json()],
                        lambda statuses: len(statuses) == len(body["history"]))
    assert logged == [h["status"] for h in body["history"]]


def test_every_service_serves_its_contract(stack: Stack) -> None:
    gateway = requests.get(f"{stack.gateway}/health", timeout=5)
    assert gateway.status_code == 200 and gateway.json()["status"] == "ok"
    assert set(gateway.json()["routes"]) >= {"loan", "credit", "property", "decision", "notify", "tasks"}
    unknown = requests.get(f"{stack.gateway}/nowhere", timeout=5)
    assert unknown.status_code == 404 and unknown.json()["message"] == "No service answers this path."
    for service in ("loan", "credit", "property", "decision", "notify"):
        assert requests.get(f"{stack.gateway}/{service}/health", timeout=5).status_code == 200
        assert requests.get(f"{stack.gateway}/{service}/ready", timeout=5).json()["checks"]["broker"] is True
        assert requests.get(f"{stack.gateway}/{service}/openapi.json", timeout=5).json()["paths"]
        assert requests.get(f"{stack.gateway}/{service}/docs", timeout=5).status_code == 200
        # Metrics are scraped on the service's own port; the gateway does not serve them.
        assert requests.get(f"{stack.gateway}/{service}/metrics", timeout=5).status_code == 404
        assert "loanflow_http_requests_total" in requests.get(f"{stack.service(service)}/{service}/metrics",
                                                              timeout=5).text


@pytest.mark.parametrize("odd", ["%0A", "a%0Db", "%00", "%2F", "%C0%AF"])
@pytest.mark.parametrize("path", ["/loan/applications/{}", "/credit/inquiries/{}", "/decision/decisions/{}",
                                  "/notify/applications/{}/events", "/property/valuations/{}"])
def test_odd_ids_get_a_json_answer_through_the_gateway(stack: Stack, path: str, odd: str) -> None:
    # An outside fuzzer found text/plain 404s: the gateway's route did not match a decoded newline.
    staff = {"Authorization": f"Bearer {STAFF_TOKEN}"}
    response = requests.get(stack.gateway + path.format(odd), headers=staff, timeout=5)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["Content-Type"].startswith("application/json"), (response.status_code, response.text)
    assert response.json()["code"] == response.status_code


@pytest.mark.parametrize(("request_size", "status"), [(5000, 422), (12000, 414)])
def test_a_long_url_is_refused_in_json_by_the_service(stack: Stack, request_size: int, status: int) -> None:
    # Under gunicorn's 8190-byte request line the application reads the query and refuses it;
    # over it gunicorn refuses the line itself, in the same JSON error format (not its HTML page).
    staff = {"Authorization": f"Bearer {STAFF_TOKEN}"}
    response = requests.get(f"{stack.gateway}/loan/applications", params={"status": "x" * request_size},
                            headers=staff, timeout=5)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["code"] == status


def test_an_oversized_header_is_refused_in_json_by_the_service(stack: Stack) -> None:
    response = requests.get(f"{stack.gateway}/loan/health", headers={"X-Padding": "x" * 9000}, timeout=5)
    assert response.status_code == 431, response.text
    assert response.json()["code"] == 431

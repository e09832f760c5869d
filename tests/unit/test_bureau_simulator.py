"""The bureau simulator's contract, through Flask's test client.

Why test a simulator: the credit service's tests, demos and benchmarks trust its answers (who is
found, idempotency by reference, injected faults), so a drift here would silently fake them all.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from loanflow.bureau_simulator import create_app, normalise_name


@pytest.fixture
def app() -> Flask:
    return create_app({"TESTING": True, "BUREAU_LATENCY_MS": 0, "BUREAU_FAILURE_RATE": 0.0})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _inquire(client: FlaskClient, reference: str, full_name: str, birth_date: str) -> TestResponse:
    body = {"reference": reference, "full_name": full_name, "birth_date": birth_date}
    return client.post("/v1/inquiries", json=body)


def test_health(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_normalise_name_ignores_case_accents_and_spaces() -> None:
    assert normalise_name("  Hélène\t ÉCHÉANCE ") == "helene echeance"


def test_person_with_one_incident_is_found(client: FlaskClient) -> None:
    response = _inquire(client, "ref-1", "Paul Defaut", "1975-03-12")
    body = response.get_json()
    assert response.status_code == 201
    assert body["found"] is True
    assert body["status"] == "active"
    assert body["reference"] == "ref-1"
    assert len(body["payment_incidents"]) == 1
    assert body["open_credits"] == []
    assert set(body["payment_incidents"][0]) == {"date", "creditor", "amount"}


def test_matching_is_case_accent_and_whitespace_insensitive(client: FlaskClient) -> None:
    body = _inquire(client, "ref-1", "  helene   ECHEANCE ", "1990-09-30").get_json()
    assert body["found"] is True
    assert [c["monthly_payment"] for c in body["open_credits"]] == ["180.00"]


def test_birth_date_tells_namesakes_apart(client: FlaskClient) -> None:
    body = _inquire(client, "ref-1", "Paul Defaut", "1990-01-01").get_json()
    assert body["found"] is True
    assert body["payment_incidents"] == []


def test_open_credits_of_marc_credit_total_650(client: FlaskClient) -> None:
    open_credits = _inquire(client, "ref-1", "Marc Credit", "1979-11-05").get_json()["open_credits"]
    assert len(open_credits) == 2
    assert sum(Decimal(c["monthly_payment"]) for c in open_credits) == Decimal("650.00")
    assert all(set(c) == {"creditor", "monthly_payment", "remaining"} for c in open_credits)


def test_claire_retard_has_two_incidents(client: FlaskClient) -> None:
    body = _inquire(client, "ref-1", "Claire Retard", "1982-07-24").get_json()
    assert len(body["payment_incidents"]) == 2


def test_unknown_person_is_not_found(client: FlaskClient) -> None:
    response = _inquire(client, "ref-1", "Personne Inconnue", "2000-01-01")
    assert response.status_code == 201
    body = response.get_json()
    assert body["found"] is False
    assert body["payment_incidents"] == []
    assert body["open_credits"] == []


def test_same_reference_returns_the_same_inquiry(client: FlaskClient) -> None:
    first = _inquire(client, "ref-1", "Paul Defaut", "1975-03-12")
    again = _inquire(client, "ref-1", "paul defaut", "1975-03-12")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()


def test_reference_reused_for_another_person_conflicts(client: FlaskClient) -> None:
    _inquire(client, "ref-1", "Paul Defaut", "1975-03-12")
    response = _inquire(client, "ref-1", "Marc Credit", "1979-11-05")
    assert response.status_code == 409
    assert response.get_json()["error"] == "reference_conflict"


def test_get_and_cancel_twice(client: FlaskClient) -> None:
    inquiry_id = _inquire(client, "ref-1", "Alice Propre", "1992-04-15").get_json()["inquiry_id"]
    assert client.get(f"/v1/inquiries/{inquiry_id}").get_json()["status"] == "active"
    for _ in range(2):
        response = client.delete(f"/v1/inquiries/{inquiry_id}")
        assert response.status_code == 200
        assert response.get_json() == {"inquiry_id": inquiry_id, "status": "cancelled"}
    fetched = client.get(f"/v1/inquiries/{inquiry_id}").get_json()
    assert fetched["status"] == "cancelled"
    assert fetched["found"] is True


def test_unknown_inquiry_is_404(client: FlaskClient) -> None:
    assert client.delete("/v1/inquiries/inq_nope").status_code == 404
    response = client.get("/v1/inquiries/inq_nope")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"full_name": "Paul Defaut", "birth_date": "1975-03-12"},
        {"reference": "", "full_name": "Paul Defaut", "birth_date": "1975-03-12"},
        {"reference": "r", "full_name": "   ", "birth_date": "1975-03-12"},
        {"reference": "r", "full_name": 42, "birth_date": "1975-03-12"},
        {"reference": "r", "full_name": "Paul Defaut"},
        {"reference": "r", "full_name": "Paul Defaut", "birth_date": "12/03/1975"},
        {"reference": "r", "full_name": "Paul Defaut", "birth_date": "1975-02-30"},
        {"reference": "r", "full_name": "Paul Defaut", "birth_date": "19750312"},
        ["not", "an", "object"],
    ],
)
def test_invalid_inquiry_is_400(client: FlaskClient, body: Any) -> None:
    response = client.post("/v1/inquiries", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_non_json_body_is_400(client: FlaskClient) -> None:
    response = client.post("/v1/inquiries", data="reference=r", content_type="text/plain")
    assert response.status_code == 400
    assert response.is_json


def test_error_message_does_not_echo_personal_data(client: FlaskClient) -> None:
    body = {"reference": "r", "full_name": "Paul Defaut", "birth_date": "1975-13-45"}
    message = client.post("/v1/inquiries", json=body).get_json()["message"]
    assert "1975-13-45" not in message
    assert "Paul" not in message


def test_failure_rate_one_always_answers_503_without_side_effect(client: FlaskClient) -> None:
    assert client.put("/v1/_faults", json={"failure_rate": 1.0}).status_code == 200
    for _ in range(5):
        response = _inquire(client, "ref-1", "Paul Defaut", "1975-03-12")
        assert response.status_code == 503
        assert response.get_json()["error"] == "unavailable"
    assert client.get("/health").status_code == 200
    client.put("/v1/_faults", json={"failure_rate": 0.0})
    assert _inquire(client, "ref-1", "Paul Defaut", "1975-03-12").status_code == 201


def test_failure_rate_zero_never_fails(client: FlaskClient) -> None:
    statuses = {_inquire(client, f"ref-{i}", "Alice Propre", "1992-04-15").status_code for i in range(50)}
    assert statuses == {201}


def test_faults_configured_at_start() -> None:
    client = create_app({"BUREAU_FAILURE_RATE": "1", "BUREAU_SEED": "7"}).test_client()
    assert client.get("/v1/_faults").get_json() == {"latency_ms": 0, "failure_rate": 1.0, "seed": 7}
    assert _inquire(client, "r", "Alice Propre", "1992-04-15").status_code == 503


def test_faults_read_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUREAU_FAILURE_RATE", "1.0")
    client = create_app().test_client()
    assert _inquire(client, "r", "Alice Propre", "1992-04-15").status_code == 503


def test_same_seed_gives_the_same_failures() -> None:
    def statuses() -> list[int]:
        client = create_app({"BUREAU_FAILURE_RATE": 0.5, "BUREAU_SEED": 42}).test_client()
        return [_inquire(client, f"r{i}", "Alice Propre", "1992-04-15").status_code for i in range(30)]

    first = statuses()
    assert first == statuses()
    assert {200, 201} & set(first)
    assert 503 in first


def test_latency_is_applied(client: FlaskClient) -> None:
    client.put("/v1/_faults", json={"latency_ms": 50})
    started = time.monotonic()
    assert _inquire(client, "r", "Alice Propre", "1992-04-15").status_code == 201
    assert time.monotonic() - started >= 0.04  # 50 ms minus the 20 % jitter


def test_put_faults_answers_current_settings(client: FlaskClient) -> None:
    response = client.put("/v1/_faults", json={"latency_ms": 10, "failure_rate": 0.25})
    assert response.get_json() == {"latency_ms": 10, "failure_rate": 0.25, "seed": None}
    assert client.get("/v1/_faults").get_json() == response.get_json()


@pytest.mark.parametrize(
    "body",
    [
        {"failure_rate": 1.5},
        {"failure_rate": -0.1},
        {"latency_ms": -1},
        {"latency_ms": 1.5},
        {"latency_ms": True},
        {"typo": 1},
        {},
    ],
)
def test_invalid_faults_are_400_and_change_nothing(client: FlaskClient, body: Any) -> None:
    response = client.put("/v1/_faults", json=body)
    assert response.status_code == 400
    assert client.get("/v1/_faults").get_json() == {"latency_ms": 0, "failure_rate": 0.0, "seed": None}


def test_invalid_start_configuration_fails_fast() -> None:
    with pytest.raises(ValueError, match="failure_rate"):
        create_app({"BUREAU_FAILURE_RATE": 2})


def test_unknown_route_and_method_answer_json(client: FlaskClient) -> None:
    assert client.get("/v1/nothing").get_json()["error"] == "not_found"
    assert client.patch("/v1/inquiries/x").status_code == 405


def test_requests_counts_every_inquiry_per_reference_and_what_is_in_flight(app: Flask) -> None:
    client = app.test_client()
    _inquire(client, "ref-a", "Alice Propre", "1992-04-15")
    _inquire(client, "ref-a", "Alice Propre", "1992-04-15")
    client.put("/v1/_faults", json={"failure_rate": 1.0})
    assert _inquire(client, "ref-b", "Paul Defaut", "1975-03-12").status_code == 503  # refused still counts
    answer = client.get("/v1/_requests?reference=ref-a&reference=ref-b&reference=ref-c").get_json()
    assert answer == {"in_flight": [], "received": {"ref-a": 2, "ref-b": 1, "ref-c": 0}, "total": 3}


def test_a_request_being_answered_is_listed_in_flight(app: Flask) -> None:
    import threading

    client = app.test_client()
    client.put("/v1/_faults", json={"latency_ms": 400})
    caller = threading.Thread(target=_inquire, args=(app.test_client(), "ref-slow", "Alice Propre", "1992-04-15"))
    caller.start()
    deadline = time.monotonic() + 5
    while client.get("/v1/_requests").get_json()["in_flight"] != ["ref-slow"]:
        assert time.monotonic() < deadline, "the slow request never showed in flight"
        time.sleep(0.02)
    caller.join()
    assert client.get("/v1/_requests").get_json()["in_flight"] == []

"""loan_app's HTTP API with the Flask test client on real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from common.service.entrypoints import web_app
from loan_app.adapters.orm import OutboxMessage
from tests.conftest import STAFF_TOKEN, make_settings
from tests.support.databases import truncate_all
from tests.support.payloads import application

STAFF = {"Authorization": f"Bearer {STAFF_TOKEN}"}


@pytest.fixture
def client(pg_urls: dict[str, str]) -> Iterator[FlaskClient]:
    truncate_all("loan", pg_urls["loan"])
    app = web_app("loan", make_settings("loan", pg_urls["loan"]))
    yield app.test_client()
    app.extensions["loanflow.runtime"].dispose()


def submit(client: FlaskClient, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post("/loan/applications", json=body or application())
    assert response.status_code == 202, response.json
    return response.json | {"location": response.headers["Location"]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_submit_answers_202_with_token_and_location(client: FlaskClient) -> None:
    accepted = submit(client)
    # The evaluation starts in the submission's own commit: the 202 states the status stored.
    assert accepted["status"] == "EVALUATING"
    assert set(accepted) == {"id", "status", "access_token", "access_token_expires_at", "links", "location"}
    assert accepted["location"] == f"/loan/applications/{accepted['id']}"
    body = client.get(accepted["location"], headers=bearer(accepted["access_token"])).json
    assert body["status"] == "EVALUATING"
    assert body["loan"] == {"amount": "200000.00", "duration_months": 240}
    assert [(h["seq"], h["from_status"], h["status"]) for h in body["history"]] == [
        (1, None, "SUBMITTED"), (2, "SUBMITTED", "EVALUATING")]
    assert body["credit"] == {"status": "PENDING"} and body["valuation"] == {"status": "PENDING"}
    assert body["requested_information"] == []


def test_submission_and_its_events_commit_together(client: FlaskClient) -> None:
    accepted = submit(client)
    rt = client.application.extensions["loanflow.runtime"]
    with rt.session_factory() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.application_id == accepted["id"])
                               .order_by(OutboxMessage.created_at)).all()
    # Both steps go out with the submission; loan_app sends itself nothing.
    assert [(r.message_type, r.queue) for r in rows] == [
        ("ApplicationStatusChanged", "notify"),
        ("ApplicationSubmitted", "notify"),
        ("ApplicationStatusChanged", "notify"),
        ("CheckCredit", "credit"),
        ("ValueProperty", "property"),
    ]
    assert [r.payload["seq"] for r in rows if r.message_type == "ApplicationStatusChanged"] == [1, 2]
    assert all(r.sent_at is None for r in rows)


@pytest.mark.parametrize(
    ("body", "field_path"),
    [
        (application(loan={"amount": "-5"}), ("loan", "amount")),
        (application(loan={"duration_months": "twelve"}), ("loan", "duration_months")),
        (application(applicant={"employment_status": "pirate"}), ("applicant", "employment_status")),
        (application(applicant={"birth_date": "2999-01-01"}), ("applicant", "birth_date")),
        (application(applicant={"email": "not-an-email"}), ("applicant", "email")),
        (application(property={"postcode": "ABCDE"}), ("property", "postcode")),
        (application(property={"kind": "castle"}), ("property", "kind")),
        (application(applicant={"full_name": "   "}), ("applicant", "full_name")),
        (application(applicant={"full_name": "x" * 5000}), ("applicant", "full_name")),
    ],
)
def test_invalid_fields_get_422_naming_the_field(client: FlaskClient, body: dict[str, Any],
                                                 field_path: tuple[str, str]) -> None:
    response = client.post("/loan/applications", json=body)
    assert response.status_code == 422
    section, name = field_path
    assert name in response.json["errors"]["json"][section]


def test_mass_assignment_is_refused(client: FlaskClient) -> None:
    body = application()
    body["status"] = "APPROVED"
    body["applicant"]["score"] = 850
    response = client.post("/loan/applications", json=body)
    assert response.status_code == 422
    assert "status" in response.json["errors"]["json"]
    assert "score" in response.json["errors"]["json"]["applicant"]


def test_malformed_and_oversized_bodies(client: FlaskClient) -> None:
    assert client.post("/loan/applications", data="{not json", content_type="application/json").status_code == 400
    huge = client.post("/loan/applications", data="x" * (128 * 1024), content_type="application/json")
    assert huge.status_code == 413
    assert huge.json["code"] == 413
    assert client.post("/loan/applications", json=[1, 2]).status_code == 422
    rt = client.application.extensions["loanflow.runtime"]
    with rt.session_factory() as session:
        assert session.scalars(select(OutboxMessage)).first() is None  # nothing half-written


def test_only_the_owner_or_staff_can_read(client: FlaskClient) -> None:
    mine, theirs = submit(client), submit(client)
    assert client.get(mine["location"]).status_code == 401
    assert client.get(mine["location"], headers=bearer("forged.token")).status_code == 401
    assert client.get(mine["location"], headers=bearer(theirs["access_token"])).status_code == 404
    assert client.get(mine["location"], headers=STAFF).status_code == 200
    assert client.get("/loan/applications/not-a-uuid", headers=STAFF).status_code == 404
    unknown = "/loan/applications/00000000-0000-4000-8000-000000000000"
    assert client.get(unknown, headers=STAFF).status_code == 404
    assert client.post(mine["location"] + "/withdraw", headers=bearer(theirs["access_token"])).status_code == 404


def test_staff_list_filters_and_paginates(client: FlaskClient) -> None:
    accepted = [submit(client) for _ in range(3)]
    assert client.get("/loan/applications").status_code == 401
    assert client.get("/loan/applications", headers=bearer(accepted[0]["access_token"])).status_code == 403
    page = client.get("/loan/applications?page=1&page_size=2", headers=STAFF)
    assert page.status_code == 200
    assert len(page.json) == 2
    assert '"total": 3' in page.headers["X-Pagination"]
    assert client.get("/loan/applications?status=APPROVED", headers=STAFF).json == []
    assert client.get("/loan/applications?status=NOPE", headers=STAFF).status_code == 422
    assert client.get("/loan/applications?page_size=1000000", headers=STAFF).status_code == 422


def test_withdraw_then_withdraw_again_conflicts(client: FlaskClient) -> None:
    accepted = submit(client)
    token = bearer(accepted["access_token"])
    first = client.post(accepted["location"] + "/withdraw", headers=token)
    assert first.status_code == 200
    assert first.json["status"] == "WITHDRAWN"
    assert client.post(accepted["location"] + "/withdraw", headers=token).status_code == 409


def test_information_when_none_was_requested_conflicts(client: FlaskClient) -> None:
    accepted = submit(client)
    response = client.post(accepted["location"] + "/information", json={"declared_income_year_1": "1"},
                           headers=bearer(accepted["access_token"]))
    assert response.status_code == 409


def test_operational_endpoints(client: FlaskClient) -> None:
    assert client.get("/loan/health").json["status"] == "ok"
    assert client.get("/loan/ready").json["checks"] == {"database": True, "broker": True}
    spec = client.get("/loan/openapi.json").json
    assert "/loan/applications" in spec["paths"]
    assert client.get("/loan/docs").status_code == 200
    assert client.get("/loan/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert b"loanflow_http_requests_total" in client.get("/loan/metrics").data

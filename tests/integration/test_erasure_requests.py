"""loan_app's side of personal data erasure, on real PostgreSQL with the Flask test client:
the admin's request (404, 409, 202 and what it wrote in one transaction), its progress as the
other services confirm, and the retention job with the clock moved past the period."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from common.database.retention import anonymise_ended
from common.identity.roles import ADMIN
from common.kernel.clock import isoformat, utcnow
from common.messaging.outbox import new_id
from common.service.entrypoints import web_app
from common.service.runtime import Runtime
from loan_app.adapters.orm import TABLES
from tests.conftest import make_settings, staff_token
from tests.support.databases import truncate_all
from tests.support.messages import deliver, outbox
from tests.support.payloads import application

pytestmark = [pytest.mark.postgres]
STAFF = {"Authorization": f"Bearer {staff_token(ADMIN, 'ada')}"}
OTHERS = ["credit", "property", "decision", "notify"]


@pytest.fixture
def client(pg_urls: dict[str, str]) -> Iterator[FlaskClient]:
    truncate_all("loan", pg_urls["loan"])
    app = web_app("loan", make_settings("loan", pg_urls["loan"], personal_data_retention_days=30))
    yield app.test_client()
    app.extensions["loanflow.runtime"].dispose()


def runtime(client: FlaskClient) -> Runtime:
    return client.application.extensions["loanflow.runtime"]


def submitted(client: FlaskClient, withdraw: bool = True, **changes: Any) -> dict[str, Any]:
    accepted = client.post("/loan/applications", json=application(**changes)).json
    if withdraw:
        assert client.post(f"/loan/applications/{accepted['id']}/withdraw", headers=STAFF).status_code == 200
    return accepted


def erasure(client: FlaskClient, application_id: str, method: str = "post", **headers: str) -> Any:
    return client.open(f"/loan/applications/{application_id}/erasure", method=method.upper(),
                       headers={**STAFF, **headers})


def stored(client: FlaskClient, application_id: str) -> dict[str, Any]:
    return client.get(f"/loan/applications/{application_id}", headers=STAFF).json


def test_an_ended_application_is_erased_in_one_transaction_with_its_event_and_audit(client: FlaskClient) -> None:
    ended, other = submitted(client), submitted(client, applicant={"full_name": "Bob Autre"})
    response = erasure(client, ended["id"])
    assert response.status_code == 202, response.json
    assert response.headers["Location"] == f"/loan/applications/{ended['id']}/erasure"
    body = response.json
    assert body["reason"] == "request" and body["requested_by"] == "ada" and body["complete"] is False
    assert [s["service"] for s in body["services"]] == ["loan", *OTHERS]
    assert [s["erased_at"] is not None for s in body["services"]] == [True, False, False, False, False]
    assert body["erased"] and body["kept"]

    application_after = stored(client, ended["id"])
    assert application_after["status"] == "WITHDRAWN" and len(application_after["history"]) == 3
    assert {key: application_after["applicant"][key] for key in ("full_name", "email", "birth_date")} == {
        "full_name": None, "email": None, "birth_date": None}
    assert application_after["applicant"]["monthly_income"] == "5200.00"
    assert application_after["property"]["address"] is None and application_after["property"]["city"] == "Lyon"
    assert stored(client, other["id"])["applicant"]["full_name"] == "Bob Autre"

    rows = outbox(runtime(client), ended["id"])
    assert sorted(r.queue for r in rows if r.message_type == "PersonalDataErasureRequested") == sorted(OTHERS)
    for row in rows:  # the copies of CheckCredit, ValueProperty, ApplicationSubmitted kept no identity
        assert "Alice" not in str(row.payload) and "alice@" not in str(row.payload), row.message_type
        assert "République" not in str(row.payload) and "1992-04-15" not in str(row.payload)
    assert any("Bob Autre" in str(r.payload) for r in outbox(runtime(client), other["id"]))
    actions = client.get("/loan/operator-actions", headers=STAFF).json
    assert [(a["operator"], a["action"], a["target"]) for a in actions] == [("ada", "erasure", ended["id"])]


def test_unknown_and_running_applications_are_refused_and_nothing_is_written(client: FlaskClient) -> None:
    assert erasure(client, new_id()).status_code == 404
    running = submitted(client, withdraw=False)
    refused = erasure(client, running["id"])
    assert refused.status_code == 409 and "withdraw it first" in refused.json["message"]
    assert stored(client, running["id"])["applicant"]["full_name"] == "Alice Propre"
    assert erasure(client, running["id"], "get").status_code == 404
    assert [r.message_type for r in outbox(runtime(client), running["id"])
            if r.message_type.startswith("PersonalData")] == []
    assert client.get("/loan/operator-actions", headers=STAFF).json == []


def test_only_staff_may_ask_or_follow(client: FlaskClient) -> None:
    ended = submitted(client)
    own = {"Authorization": f"Bearer {ended['access_token']}"}
    for method in ("post", "get"):
        assert client.open(f"/loan/applications/{ended['id']}/erasure", method=method.upper()).status_code == 401
        assert client.open(f"/loan/applications/{ended['id']}/erasure", method=method.upper(),
                           headers=own).status_code == 403
    assert stored(client, ended["id"])["applicant"]["full_name"] == "Alice Propre"


def test_progress_follows_the_confirmations_and_a_second_request_asks_again(client: FlaskClient) -> None:
    ended = submitted(client)
    first = erasure(client, ended["id"]).json
    rt = runtime(client)
    for service in OTHERS:
        confirmation = {"service": service, "erased_at": isoformat(utcnow())}
        assert deliver(rt, "PersonalDataErased", ended["id"], confirmation, message_id=f"{service}-1")
        assert not deliver(rt, "PersonalDataErased", ended["id"], confirmation, message_id=f"{service}-1")
    progress = erasure(client, ended["id"], "get").json
    assert progress["complete"] is True and all(s["erased_at"] for s in progress["services"])

    again = erasure(client, ended["id"])
    assert again.status_code == 202 and again.json["requested_at"] == first["requested_at"]
    events = [r for r in outbox(rt, ended["id"]) if r.message_type == "PersonalDataErasureRequested"]
    assert len({r.event_id for r in events}) == 2  # published again: a restored backup erases again
    assert [a["action"] for a in client.get("/loan/operator-actions", headers=STAFF).json] == ["erasure"] * 2


def test_retention_anonymises_what_ended_before_the_period_and_tells_the_others(client: FlaskClient) -> None:
    rt = runtime(client)
    ended, running = submitted(client), submitted(client, withdraw=False)
    assert anonymise_ended(rt, now=utcnow() + timedelta(days=29)) == 0
    assert stored(client, ended["id"])["applicant"]["full_name"] == "Alice Propre"

    assert anonymise_ended(rt, now=utcnow() + timedelta(days=31)) == 1
    assert stored(client, ended["id"])["applicant"]["email"] is None
    assert stored(client, running["id"])["applicant"]["email"] == "alice@example.org"
    events = [r for r in outbox(rt, ended["id"]) if r.message_type == "PersonalDataErasureRequested"]
    assert sorted(r.queue for r in events) == sorted(OTHERS) and events[0].payload["reason"] == "retention"
    progress = erasure(client, ended["id"], "get").json
    assert progress["reason"] == "retention" and progress["requested_by"] is None
    assert anonymise_ended(rt, now=utcnow() + timedelta(days=400)) == 0  # erased once


def test_retention_is_off_at_zero(pg_urls: dict[str, str]) -> None:
    truncate_all("loan", pg_urls["loan"])
    app = web_app("loan", make_settings("loan", pg_urls["loan"], personal_data_retention_days=0))
    try:
        client = app.test_client()
        ended = submitted(client)
        assert anonymise_ended(runtime(client), now=utcnow() + timedelta(days=10_000)) == 0
        assert stored(client, ended["id"])["applicant"]["full_name"] == "Alice Propre"
        with runtime(client).session_factory() as session:
            assert session.scalars(select(TABLES.erasures)).all() == []
    finally:
        app.extensions["loanflow.runtime"].dispose()

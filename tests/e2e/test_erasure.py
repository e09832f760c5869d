"""An admin's erasure request, end to end: every database is read afterwards, column by column.

The real stack (gateway, gunicorn, Dramatiq workers on RabbitMQ, five PostgreSQL databases, the
SMTP catcher, the bureau simulator). Three applicants with values found nowhere else: one approved
(its schedule e-mailed and stored), one whose credit check was dead-lettered (its copy of the
message, with name and birth date, parked in credit's database), and one left alone. The first two
are erased; then every text, JSON and binary column of every table of the five databases is
searched for their name, e-mail, birth date and address — and the third's must still be there.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
import requests

from common.identity.roles import ADMIN
from tests.conftest import staff_token
from tests.e2e.conftest import Client
from tests.support.databases import sql, where_text_appears
from tests.support.payloads import application
from tests.support.polling import TERMINAL, eventually
from tests.support.smtp import received
from tests.support.stack import SERVICES, Stack

pytestmark = [pytest.mark.slow]
STAFF = {"Authorization": f"Bearer {staff_token(ADMIN, 'ada')}"}
#: A steady retry round of the stack (8 retries, backoff up to 2 s) ends well within this.
ROUND = 120


def person() -> dict[str, str]:
    """An applicant whose every identifying value is unique to this test (ASCII: JSON escapes the rest)."""
    token = uuid.uuid4().hex[:10]
    birth = f"1963-{random.randint(1, 12):02d}-{random.randint(1, 28):02d}"
    return {"full_name": f"Erasa Sentinel{token}", "email": f"erasa.{token}@example.org", "birth_date": birth,
            "address": f"7 impasse Oubli {token}"}


def submit(client: Client, who: dict[str, str]) -> dict[str, Any]:
    return client.submit(application(applicant={k: who[k] for k in ("full_name", "email", "birth_date")},
                                     property={"address": who["address"]}))


def documents(stack: Stack, accepted: dict[str, Any]) -> list[dict[str, Any]]:
    response = requests.get(f"{stack.gateway}/notify/applications/{accepted['id']}/documents",
                            headers={"Authorization": f"Bearer {accepted['access_token']}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def approved_with_documents(client: Client, stack: Stack, who: dict[str, str]) -> dict[str, Any]:
    accepted = submit(client, who)
    assert client.wait_for(accepted, TERMINAL)["status"] == "APPROVED"
    assert len(eventually(lambda: documents(stack, accepted), lambda found: len(found) == 2, 60)) == 2
    mails = eventually(lambda: [m for m in received(stack.maildir) if m["To"] == who["email"]], bool, 60)
    assert len(mails) == 1 and list(mails[0].iter_attachments())
    return accepted


def dead_lettered(client: Client, stack: Stack, who: dict[str, str]) -> dict[str, Any]:
    requests.put(f"{stack.bureau}/v1/_faults", json={"failure_rate": 1.0}, timeout=5)
    try:
        accepted = submit(client, who)
        assert client.wait_for(accepted, TERMINAL, timeout=ROUND)["status"] == "FAILED"
    finally:
        requests.put(f"{stack.bureau}/v1/_faults", json={"failure_rate": 0.0}, timeout=5)
    assert eventually(lambda: credit_letters(stack, accepted["id"]), bool, 30)
    return accepted


def credit_letters(stack: Stack, application_id: str) -> list[Any]:
    return sql(stack.urls["credit"], "SELECT status, message::text FROM dead_letters WHERE application_id = :a",
               a=application_id)


def erasure(stack: Stack, application_id: str, method: str = "GET") -> requests.Response:
    return requests.request(method, f"{stack.gateway}/loan/applications/{application_id}/erasure", headers=STAFF,
                            timeout=10)


def everywhere(stack: Stack, who: dict[str, str]) -> dict[str, list[str]]:
    """``{value: ["service: table.column", …]}`` for each of ``who``'s values, over the five databases."""
    found: dict[str, list[str]] = {value: [] for value in who.values()}
    for service in SERVICES:
        for value, columns in where_text_appears(stack.urls[service], list(who.values())).items():
            found[value] += [f"{service}: {column}" for column in columns]
    return found


def test_an_erasure_request_leaves_the_applicant_in_no_database(client: Client, stack: Stack) -> None:
    failed_one, approved_one, kept_one = person(), person(), person()
    failed = dead_lettered(client, stack, failed_one)
    assert failed_one["full_name"] in credit_letters(stack, failed["id"])[0][1]  # the parked copy names them
    approved = approved_with_documents(client, stack, approved_one)
    kept = approved_with_documents(client, stack, kept_one)
    before = everywhere(stack, approved_one)
    assert {"loan: applications.applicant", "notify: recipients.full_name"} <= set(before[approved_one["full_name"]])

    for accepted in (approved, failed):
        answer = erasure(stack, accepted["id"], "POST")
        assert answer.status_code == 202, answer.text
        assert answer.json()["services"][0]["service"] == "loan" and answer.json()["services"][0]["erased_at"]
    for accepted in (approved, failed):
        progress = eventually(lambda a=accepted: erasure(stack, a["id"]).json(), lambda p: p["complete"], 60)
        assert progress["complete"], progress
        assert [s["service"] for s in progress["services"]] == ["loan", "credit", "property", "decision", "notify"]

    for who in (approved_one, failed_one):
        assert everywhere(stack, who) == {value: [] for value in who.values()}, who
    kept_where = everywhere(stack, kept_one)  # the control: the search finds what is there
    assert {"loan: applications.applicant", "notify: recipients.full_name"} <= set(kept_where[kept_one["full_name"]])
    assert "notify: recipients.email" in kept_where[kept_one["email"]]
    assert "loan: applications.applicant" in kept_where[kept_one["birth_date"]]
    assert "loan: applications.property" in kept_where[kept_one["address"]]
    assert len(documents(stack, kept)) == 2 and documents(stack, approved) == []

    # What was kept: the status, history, decision and amounts; the parked letter, without the person.
    after = client.get(approved)
    assert after["status"] == "APPROVED" and after["decision"]["offer"] and len(after["history"]) == 4
    assert after["applicant"]["full_name"] is None and after["property"]["city"] == "Lyon"
    [(status, message)] = credit_letters(stack, failed["id"])
    assert status == "PARKED" and '"full_name": null' in message
    actions = requests.get(f"{stack.gateway}/loan/operator-actions", headers=STAFF, timeout=10).json()
    assert {(a["action"], a["target"], a["operator"]) for a in actions} >= {
        ("erasure", approved["id"], "ada"), ("erasure", failed["id"], "ada")}

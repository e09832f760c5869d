"""What an operator's replay of a dead letter does, on the real system (docs/operations.md).

- A replay that fails again is parked again, and the give-up runs again (an e-mail is FAILED
  again); once the cause is fixed, a replay of the e-mail sends it, exactly once.
- A replayed credit check of an application that has ended leaves no active bureau inquiry.
- A batch replay by query (``POST /<svc>/dead-letters/batch``): a dry run counts the letters an
  outage parked, the replay after the fix sends each e-mail once, the audit names every letter.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from common.identity.roles import OPERATOR
from tests.conftest import staff_token
from tests.e2e.conftest import Client
from tests.support.databases import sql, sql_value
from tests.support.payloads import application
from tests.support.polling import TERMINAL, eventually
from tests.support.servers import port_open
from tests.support.smtp import received
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow]
STAFF = {"Authorization": f"Bearer {staff_token(OPERATOR, 'rita')}"}
#: A steady retry round of the stack (8 retries, backoff up to 2 s) ends well within this.
ROUND = 120


def letters(stack: Stack, service: str, application_id: str) -> list[dict[str, Any]]:
    return requests.get(f"{stack.gateway}/{service}/dead-letters", params={"application_id": application_id},
                        headers=STAFF, timeout=10).json()


def replay(stack: Stack, service: str, letter_id: str) -> requests.Response:
    return requests.post(f"{stack.gateway}/{service}/dead-letters/{letter_id}/replay", headers=STAFF, timeout=10)


def smtp_listening(stack: Stack) -> bool:
    return port_open(int(stack.env["SMTP_PORT"]))


def email_status(stack: Stack, application_id: str) -> str | None:
    return sql_value(stack.urls["notify"], "SELECT status FROM emails WHERE application_id = :a", a=application_id)


def mails_for(stack: Stack, application_id: str) -> list[Any]:
    return [m for m in received(stack.maildir) if application_id in str(m["Message-ID"])]


def test_a_failed_email_is_parked_again_by_a_failed_replay_then_sent_once(client: Client, stack: Stack) -> None:
    stack.stop("smtp")
    try:
        rejected = client.submit(application(applicant={"full_name": "Paul Defaut", "birth_date": "1975-03-12"}))
        assert client.wait_for(rejected, TERMINAL)["status"] == "REJECTED"
        application_id = rejected["id"]
        parked = eventually(lambda: letters(stack, "notify", application_id), lambda found: len(found) == 1, ROUND)
        letter = parked[0]
        assert letter["actor"] == "notify.send_email" and letter["replays"] == 0
        assert email_status(stack, application_id) == "FAILED"

        assert replay(stack, "notify", letter["id"]).json()["status"] == "REPLAYED"
        again = eventually(lambda: letters(stack, "notify", application_id),
                           lambda found: found[0]["status"] == "PARKED", ROUND)[0]
        assert again["status"] == "PARKED", again
        assert again["id"] == letter["id"] and again["replays"] == 1
        assert again["error"].startswith("MailerUnavailable")
        # Parking and the give-up share one transaction: the replay made the e-mail owed, the
        # give-up of the failed replay recorded it FAILED again.
        assert email_status(stack, application_id) == "FAILED"
    finally:
        stack.start("smtp")
        eventually(lambda: smtp_listening(stack), bool, 30)
    assert mails_for(stack, application_id) == []

    assert replay(stack, "notify", letter["id"]).json()["replays"] == 2
    assert eventually(lambda: email_status(stack, application_id), lambda status: status == "SENT", 60) == "SENT"
    assert replay(stack, "notify", letter["id"]).status_code == 409
    mails = eventually(lambda: mails_for(stack, application_id), bool, 30)
    assert len(mails) == 1
    task = requests.get(f"{stack.gateway}/notify/tasks/{letter['message_id']}", headers=STAFF, timeout=10).json()
    assert task["state"] == "succeeded"
    assert len(mails_for(stack, application_id)) == 1
    actions = requests.get(f"{stack.gateway}/notify/operator-actions", headers=STAFF, timeout=10).json()
    assert [a["action"] for a in actions if a["target"] == letter["id"]] == ["replay", "replay"]


def test_replaying_the_credit_check_of_an_ended_application_leaves_no_active_inquiry(
        client: Client, stack: Stack) -> None:
    requests.put(f"{stack.bureau}/v1/_faults", json={"failure_rate": 1.0}, timeout=5)
    try:
        accepted = client.submit(application())
        assert client.wait_for(accepted, TERMINAL, timeout=ROUND)["status"] == "FAILED"
    finally:
        requests.put(f"{stack.bureau}/v1/_faults", json={"failure_rate": 0.0}, timeout=5)
    application_id = accepted["id"]
    letter = eventually(lambda: letters(stack, "credit", application_id), bool, 30)[0]
    assert replay(stack, "credit", letter["id"]).status_code == 200

    def replayed_task() -> dict[str, Any]:
        return requests.get(f"{stack.gateway}/credit/tasks/{letter['message_id']}", headers=STAFF, timeout=10).json()

    assert eventually(replayed_task, lambda task: task["state"] == "succeeded", 60)["state"] == "succeeded"
    [(status, bureau_id)] = sql(stack.urls["credit"], "SELECT status, bureau_inquiry_id FROM credit_inquiries "
                                                       "WHERE application_id = :a", a=application_id)
    if bureau_id is not None:
        inquiry = requests.get(f"{stack.bureau}/v1/inquiries/{bureau_id}", timeout=5).json()
        assert inquiry["status"] != "active", (status, inquiry)
    assert status == "FAILED"
    assert client.get(accepted)["status"] == "FAILED"


def batch(stack: Stack, service: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{stack.gateway}/{service}/dead-letters/batch", json=body, headers=STAFF, timeout=60)


def test_a_batch_replay_counts_then_sends_the_emails_an_outage_parked(client: Client, stack: Stack) -> None:
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    stack.stop("smtp")
    try:
        rejected = [client.submit(application(applicant={"full_name": "Paul Defaut", "birth_date": "1975-03-12"}))
                    for _ in range(2)]
        ids = [accepted["id"] for accepted in rejected]
        for accepted in rejected:
            assert client.wait_for(accepted, TERMINAL)["status"] == "REJECTED"
        for application_id in ids:
            eventually(lambda a=application_id: letters(stack, "notify", a), lambda found: len(found) == 1, ROUND)
    finally:
        stack.start("smtp")
        eventually(lambda: smtp_listening(stack), bool, 30)
    query = {"actor": "notify.send_email", "error_contains": "mailerunavailable", "since": since}

    counted = batch(stack, "notify", {"action": "replay", "filter": query, "dry_run": True}).json()
    assert (counted["matched"], counted["done"], counted["dry_run"]) == (2, 0, True), counted
    assert [email_status(stack, a) for a in ids] == ["FAILED", "FAILED"]
    replayed = batch(stack, "notify", {"action": "replay", "filter": query, "dry_run": False}).json()
    assert (replayed["matched"], replayed["done"], replayed["skipped"]) == (2, 2, 0), replayed
    for application_id in ids:
        assert eventually(lambda a=application_id: email_status(stack, a), lambda s: s == "SENT", 60) == "SENT"
        assert len(eventually(lambda a=application_id: mails_for(stack, a), bool, 30)) == 1
    assert batch(stack, "notify", {"action": "replay", "filter": query, "dry_run": False}).json()["matched"] == 0

    actions = requests.get(f"{stack.gateway}/notify/operator-actions", params={"page_size": 100}, headers=STAFF,
                           timeout=10).json()
    parked = {letters(stack, "notify", a)[0]["id"] for a in ids}
    assert {a["target"] for a in actions if a["detail"].get("batch") == replayed["batch"]} == parked
    assert all(a["operator"] == "rita" for a in actions if a["detail"].get("batch") == replayed["batch"])
    [batch_row] = [a for a in actions if a["target"] == replayed["batch"]]
    assert batch_row["action"] == "batch_replay" and batch_row["detail"]["done"] == 2
    assert [a["detail"]["dry_run"] for a in actions if a["target"] == counted["batch"]] == [True]

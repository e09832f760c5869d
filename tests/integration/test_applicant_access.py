"""Applicant tokens that expire, are re-issued to the applicant's address and can be revoked.

loan_app and notify_app as WSGI apps on their real PostgreSQL databases; notify learns what loan
decided through the same handlers its worker runs (:func:`tests.support.messages.deliver`). The
tokens an e-mail would carry are minted here with the test key (the e-mail itself, through a
real SMTP server: ``test_live_credentials.py`` and the e2e tests).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from common.kernel.clock import isoformat, utcnow
from common.kernel.rates import parse_rate_limit
from common.messaging.outbox import new_id
from common.service.entrypoints import web_app
from common.service.runtime import Runtime
from common.web.applicant_access import issue_applicant_token
from loan_app.resources.applications.routes import TOKEN_REQUESTED
from tests.conftest import SECRET_KEY, STAFF_TOKEN, make_settings
from tests.support.databases import truncate_all
from tests.support.messages import deliver, outbox
from tests.support.payloads import application

pytestmark = [pytest.mark.postgres]

#: Tokens work this long after the application's end in these apps (a test waits it out).
AFTER_END_SECONDS = 1.5
STAFF = {"Authorization": f"Bearer {STAFF_TOKEN}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def apps(pg_urls: dict[str, str]) -> Iterator[dict[str, Flask]]:
    built = {}
    for service in ("loan", "notify"):
        truncate_all(service, pg_urls[service])
        built[service] = web_app(service, make_settings(
            service, pg_urls[service], applicant_token_days_after_end=AFTER_END_SECONDS / 86400))
    yield built
    for app in built.values():
        app.extensions["loanflow.runtime"].dispose()


@pytest.fixture(scope="module")
def loan(apps: dict[str, Flask]) -> FlaskClient:
    return apps["loan"].test_client()


@pytest.fixture(scope="module")
def notify(apps: dict[str, Flask]) -> FlaskClient:
    return apps["notify"].test_client()


def runtime(app: Flask) -> Runtime:
    return app.extensions["loanflow.runtime"]


def submit(loan: FlaskClient, email: str = "alice@example.org") -> dict[str, Any]:
    answer = loan.post("/loan/applications", json=application(applicant={"email": email}))
    assert answer.status_code == 202, answer.json
    return answer.json


def read(loan: FlaskClient, accepted: dict[str, Any], token: str | None = None) -> Any:
    return loan.get(f"/loan/applications/{accepted['id']}", headers=bearer(token or accepted["access_token"]))


def ask_for_token(loan: FlaskClient, application_id: str, email: str) -> Any:
    answer = loan.post(f"/loan/applications/{application_id}/access-token", json={"email": email})
    assert answer.status_code == 202, answer.json
    assert answer.json == TOKEN_REQUESTED  # whatever happened: the answer reveals nothing
    return answer


def access_messages(apps: dict[str, Flask], application_id: str) -> list[tuple[str, dict[str, Any]]]:
    """What loan staged about the applicant's access: (type, payload without its time)."""
    return [(row.message_type, {k: v for k, v in row.payload.items() if k != "occurred_at"})
            for row in outbox(runtime(apps["loan"]), application_id)
            if row.message_type in ("ApplicantAccessChanged", "SendAccessToken")]


def refused_because(answer: Any, reason: str) -> None:
    assert answer.status_code == 401, answer.json
    assert answer.json["errors"] == {"reason": reason}
    assert answer.json["message"]


def test_the_submission_says_when_its_token_expires(loan: FlaskClient) -> None:
    accepted = submit(loan)
    expires = accepted["access_token_expires_at"]
    assert abs(utcnow() + timedelta(days=90) - datetime.fromisoformat(expires)) < timedelta(seconds=5)


def test_a_new_token_goes_only_to_the_applicants_address(apps: dict[str, Flask], loan: FlaskClient) -> None:
    accepted = submit(loan, email="Alice.Propre@example.org")
    ask_for_token(loan, accepted["id"], "mallory@example.org")
    ask_for_token(loan, new_id(), "alice.propre@example.org")  # no such application: the same answer
    assert access_messages(apps, accepted["id"]) == []
    assert read(loan, accepted).status_code == 200

    ask_for_token(loan, accepted["id"], "alice.PROPRE@example.org")  # case aside, it is hers
    assert access_messages(apps, accepted["id"]) == [
        ("ApplicantAccessChanged", {"generation": 2, "valid_from": 2,
                                    "cause": "a new token was sent to the applicant's e-mail address"}),
        ("SendAccessToken", {"generation": 2})]  # the token itself is in no message: notify mints it
    refused_because(read(loan, accepted), "TOKEN_REVOKED")  # the new token retires the old one
    assert read(loan, accepted, issue_applicant_token(SECRET_KEY, accepted["id"], 2)).status_code == 200

    ask_for_token(loan, accepted["id"], "alice.propre@example.org")  # again at once: the same answer, no e-mail
    assert len(access_messages(apps, accepted["id"])) == 2


def test_one_address_asks_for_tokens_a_few_times_only(pg_urls: dict[str, str], loan: FlaskClient) -> None:
    accepted = submit(loan)
    limited = web_app("loan", make_settings("loan", pg_urls["loan"], reissue_rate_limit=parse_rate_limit(
        "LOANFLOW_REISSUE_RATE_LIMIT", "2/minute")))
    try:
        client = limited.test_client()
        for _ in range(2):
            ask_for_token(client, accepted["id"], "mallory@example.org")
        refused = client.post(f"/loan/applications/{accepted['id']}/access-token", json={"email": "a@b.org"})
        assert refused.status_code == 429 and refused.json["errors"] == {"reason": "RATE_LIMITED"}
        assert refused.headers["Retry-After"].isdigit()
    finally:
        runtime(limited).dispose()


def test_a_request_for_a_token_is_validated_like_any_body(loan: FlaskClient) -> None:
    accepted = submit(loan)
    for body in ({}, {"email": "not an address"}, {"email": "alice@example.org", "id": accepted["id"]}):
        answer = loan.post(f"/loan/applications/{accepted['id']}/access-token", json=body)
        assert answer.status_code == 422 and "json" in answer.json["errors"], body
    assert loan.post("/loan/applications/not-an-id/access-token", json={"email": "a@b.org"}).status_code == 404


def test_the_applicant_revokes_every_token_and_a_new_one_opens_again(apps: dict[str, Flask],
                                                                       loan: FlaskClient) -> None:
    accepted = submit(loan)
    assert loan.post(f"/loan/applications/{accepted['id']}/access-token/revoke",
                     headers=bearer(accepted["access_token"])).status_code == 204
    refused_because(read(loan, accepted), "TOKEN_REVOKED")
    withdraw = loan.post(f"/loan/applications/{accepted['id']}/withdraw", headers=bearer(accepted["access_token"]))
    refused_because(withdraw, "TOKEN_REVOKED")
    assert access_messages(apps, accepted["id"]) == [
        ("ApplicantAccessChanged", {"generation": 1, "valid_from": 2, "cause": "tokens revoked by applicant"})]

    ask_for_token(loan, accepted["id"], "alice@example.org")
    assert read(loan, accepted, issue_applicant_token(SECRET_KEY, accepted["id"], 2)).status_code == 200
    refused_because(read(loan, accepted), "TOKEN_REVOKED")


def test_staff_revoke_an_applicants_tokens(apps: dict[str, Flask], loan: FlaskClient) -> None:
    accepted, other = submit(loan), submit(loan)
    assert loan.post(f"/loan/applications/{accepted['id']}/access-token/revoke", headers=STAFF).status_code == 204
    refused_because(read(loan, accepted), "TOKEN_REVOKED")
    assert read(loan, other).status_code == 200  # one application's tokens only
    # The staff member who revoked them, by name.
    assert access_messages(apps, accepted["id"])[0][1]["cause"] == "tokens revoked by admin"
    assert loan.post(f"/loan/applications/{new_id()}/access-token/revoke", headers=STAFF).status_code == 404
    # Another applicant's token neither revokes nor learns anything.
    assert loan.post(f"/loan/applications/{other['id']}/access-token/revoke",
                     headers=bearer(accepted["access_token"])).status_code == 401
    fresh = submit(loan)
    assert loan.post(f"/loan/applications/{other['id']}/access-token/revoke",
                     headers=bearer(fresh["access_token"])).status_code == 404
    assert read(loan, other).status_code == 200


def test_a_token_expires_after_its_application_ended(apps: dict[str, Flask], loan: FlaskClient) -> None:
    accepted = submit(loan)
    assert loan.post(f"/loan/applications/{accepted['id']}/withdraw",
                     headers=bearer(accepted["access_token"])).status_code == 200
    assert read(loan, accepted).status_code == 200  # ended, but just now
    time.sleep(AFTER_END_SECONDS + 0.5)
    answer = read(loan, accepted)
    refused_because(answer, "TOKEN_EXPIRED")
    assert "ended more than" in answer.json["message"]
    assert loan.get(f"/loan/applications/{accepted['id']}", headers=STAFF).status_code == 200
    ask_for_token(loan, accepted["id"], "alice@example.org")  # a new token would be expired already
    assert access_messages(apps, accepted["id"]) == []


def test_a_token_past_its_longest_life_is_expired_whatever_the_application(loan: FlaskClient,
                                                                            notify: FlaskClient) -> None:
    accepted = submit(loan)
    old = issue_applicant_token(SECRET_KEY, accepted["id"], 1, utcnow() - timedelta(days=90, seconds=1))
    refused_because(read(loan, accepted, old), "TOKEN_EXPIRED")
    refused_because(notify.get(f"/notify/applications/{accepted['id']}/notifications", headers=bearer(old)),
                    "TOKEN_EXPIRED")
    refused_because(notify.get(f"/notify/applications/{new_id()}/notifications", headers=bearer(old)),
                    "TOKEN_EXPIRED")  # not a 404: the token is genuine, only too old


def access_changed(notify_rt: Runtime, application_id: str, generation: int, valid_from: int,
                   message_id: str | None = None) -> bool:
    return deliver(notify_rt, "ApplicantAccessChanged", application_id,
                   {"generation": generation, "valid_from": valid_from, "cause": "test"}, message_id)


def test_notify_refuses_what_loan_retired_in_any_order_once(apps: dict[str, Flask], notify: FlaskClient) -> None:
    notify_rt, application_id = runtime(apps["notify"]), new_id()
    path = f"/notify/applications/{application_id}/notifications"
    first, second = (issue_applicant_token(SECRET_KEY, application_id, g) for g in (1, 2))
    assert notify.get(path, headers=bearer(first)).status_code == 200  # nothing known yet: generation 1 opens

    assert access_changed(notify_rt, application_id, 2, 2, message_id="reissue")
    refused_because(notify.get(path, headers=bearer(first)), "TOKEN_REVOKED")
    assert notify.get(path, headers=bearer(second)).status_code == 200
    assert not access_changed(notify_rt, application_id, 2, 2, message_id="reissue")  # a duplicate: skipped
    assert access_changed(notify_rt, application_id, 1, 1)  # an older change arriving late changes nothing
    refused_because(notify.get(path, headers=bearer(first)), "TOKEN_REVOKED")

    assert access_changed(notify_rt, application_id, 2, 3)  # revoked
    refused_because(notify.get(path, headers=bearer(second)), "TOKEN_REVOKED")
    assert notify.get(path, headers=STAFF).status_code == 200


def status_changed(notify_rt: Runtime, application_id: str, seq: int, status: str, previous: str | None,
                   at: str) -> None:
    assert deliver(notify_rt, "ApplicationStatusChanged", application_id, {
        "seq": seq, "status": status, "previous_status": previous, "cause": "test", "at": at, "reasons": [],
        "offer": None, "requested_information": []})


def test_notify_expires_tokens_after_the_final_status_it_logged(apps: dict[str, Flask], notify: FlaskClient) -> None:
    notify_rt, application_id = runtime(apps["notify"]), new_id()
    token = issue_applicant_token(SECRET_KEY, application_id)
    path = f"/notify/applications/{application_id}/notifications"
    status_changed(notify_rt, application_id, 1, "SUBMITTED", None, isoformat(utcnow()))
    assert notify.get(path, headers=bearer(token)).status_code == 200
    status_changed(notify_rt, application_id, 2, "WITHDRAWN", "SUBMITTED", isoformat(utcnow() - timedelta(seconds=2)))
    refused_because(notify.get(path, headers=bearer(token)), "TOKEN_EXPIRED")

"""Admission control of ``POST /loan/applications`` (loan_app/admission.py) on real PostgreSQL.

Beyond ``LOANFLOW_MAX_IN_EVALUATION`` applications in evaluation, a new one is refused with a
503, ``Retry-After`` and the reason code ``AT_CAPACITY``, and nothing is stored; applications that
end (or wait for the applicant) free their place; without a bound everything is admitted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pika
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from common.service.entrypoints import web_app
from loan_app import admission
from loan_app.adapters.notify_backlog import notify_queue
from loan_app.adapters.orm import OutboxMessage, applications
from tests.conftest import SUFFIX, make_settings
from tests.support.databases import truncate_all
from tests.support.payloads import application
from tests.support.servers import free_port

BOUND = 3


@pytest.fixture
def client(pg_urls: dict[str, str]) -> Iterator[FlaskClient]:
    truncate_all("loan", pg_urls["loan"])
    app = web_app("loan", make_settings("loan", pg_urls["loan"]).with_overrides(max_in_evaluation=BOUND))
    yield app.test_client()
    app.extensions["loanflow.runtime"].dispose()


def _post(client: FlaskClient, body: Any = None) -> Any:
    return client.post("/loan/applications", json=application() if body is None else body)


def _stored(client: FlaskClient) -> tuple[int, int]:
    rt = client.application.extensions["loanflow.runtime"]
    with rt.session_factory() as session:
        return (int(session.scalar(select(func.count()).select_from(applications)) or 0),
                int(session.scalar(select(func.count()).select_from(OutboxMessage)) or 0))


def _set_status(client: FlaskClient, application_id: str, status: str) -> None:
    rt = client.application.extensions["loanflow.runtime"]
    with rt.session_factory() as session, session.begin():
        session.execute(update(applications).where(applications.c.id == application_id).values(status=status))


def _next_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next POST counts again (the gate reuses its count for REFRESH_SECONDS)."""
    monkeypatch.setattr(admission, "REFRESH_SECONDS", 0.0)


def test_beyond_the_bound_answers_503_with_retry_after_and_stores_nothing(client: FlaskClient) -> None:
    accepted = [_post(client) for _ in range(BOUND)]
    assert [r.status_code for r in accepted] == [202] * BOUND
    stored = _stored(client)
    refused = _post(client)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"].isdigit() and int(refused.headers["Retry-After"]) > 0
    body = refused.json
    assert body["code"] == 503 and body["errors"] == {"reason": "AT_CAPACITY"} and body["message"]
    assert _stored(client) == stored  # neither the application nor a message


def test_a_place_frees_when_an_application_ends_or_waits_for_the_applicant(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _next_count(monkeypatch)
    ids = [_post(client).json["id"] for _ in range(BOUND)]
    assert _post(client).status_code == 503
    _set_status(client, ids[0], "APPROVED")
    assert _post(client).status_code == 202
    assert _post(client).status_code == 503
    _set_status(client, ids[1], "INFO_REQUESTED")  # waits for the applicant: not in evaluation
    assert _post(client).status_code == 202


def test_at_capacity_the_body_is_not_even_read(client: FlaskClient) -> None:
    for _ in range(BOUND):
        assert _post(client).status_code == 202
    assert _post(client, body={"not": "an application"}).status_code == 503


def test_no_bound_by_default(pg_urls: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    truncate_all("loan", pg_urls["loan"])
    settings = make_settings("loan", pg_urls["loan"])
    assert settings.max_in_evaluation == 0
    app = web_app("loan", settings)
    try:
        _next_count(monkeypatch)
        client = app.test_client()
        assert [_post(client).status_code for _ in range(BOUND + 2)] == [202] * (BOUND + 2)
    finally:
        app.extensions["loanflow.runtime"].dispose()


def test_the_503_is_in_the_openapi_document(client: FlaskClient) -> None:
    operation = client.get("/loan/openapi.json").json["paths"]["/loan/applications"]["post"]
    answer = operation["responses"]["503"]
    assert "Retry-After" in answer["headers"] and "AT_CAPACITY" in answer["description"]


def test_applications_not_yet_told_count_in_the_bound(pg_urls: dict[str, str], servers: Any) -> None:
    """Messages waiting in notify's queue count as applications (4 messages each) against the bound:
    evaluations ended in loan but not yet told to the applicant still hold their place."""
    vhost = f"loan_admission{SUFFIX}"
    servers.rabbitmq.reset_vhost(vhost)
    url = servers.rabbitmq.amqp_url(vhost)
    truncate_all("loan", pg_urls["loan"])
    app = web_app("loan", make_settings("loan", pg_urls["loan"]).with_overrides(max_in_evaluation=BOUND,
                                                                                 broker_url=url))
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.queue_declare(notify_queue(), durable=True)
        for _ in range(admission.NOTIFY_MESSAGES_PER_APPLICATION * (BOUND - 1) + 1):  # BOUND - 1 and a bit
            channel.basic_publish("", notify_queue(), b"{}")
        client = app.test_client()
        assert [_post(client).status_code for _ in range(2)] == [503, 503]  # BOUND untold: full
        channel.queue_purge(notify_queue())  # notify caught up
        time.sleep(admission.REFRESH_SECONDS)
        assert [_post(client).status_code for _ in range(BOUND + 1)] == [202] * BOUND + [503]
    finally:
        connection.close()
        app.extensions["loanflow.runtime"].dispose()
        servers.rabbitmq.delete_vhost(vhost)


def test_an_unreachable_broker_counts_evaluations_only(pg_urls: dict[str, str]) -> None:
    truncate_all("loan", pg_urls["loan"])
    app = web_app("loan", make_settings("loan", pg_urls["loan"]).with_overrides(
        max_in_evaluation=BOUND, broker_url=f"amqp://guest:guest@127.0.0.1:{free_port()}/"))
    try:
        client = app.test_client()
        assert [_post(client).status_code for _ in range(BOUND + 1)] == [202] * BOUND + [503]
    finally:
        app.extensions["loanflow.runtime"].dispose()


def test_the_admission_rate_counts_every_process_and_slides(pg_urls: dict[str, str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """``LOANFLOW_ADMISSION_RATE``: two loan processes (two apps, each with its own gate) admit
    together no more than the rate per second, read from the table; a second later they admit again."""
    truncate_all("loan", pg_urls["loan"])
    _next_count(monkeypatch)
    settings = make_settings("loan", pg_urls["loan"]).with_overrides(admission_rate=3.0)
    apps = [web_app("loan", settings) for _ in range(2)]
    try:
        first, second = (app.test_client() for app in apps)
        answers = [_post(client).status_code for client in (first, second, first, second, first, second)]
        assert answers.count(202) == 3 and answers.count(503) == 3, answers
        refused = _post(first)
        assert refused.status_code == 503 and refused.json["errors"] == {"reason": "AT_CAPACITY"}
        assert refused.headers["Retry-After"].isdigit()
        time.sleep(1.1)  # the window slid past them
        assert _post(second).status_code == 202
        stored = _stored(first)[0]
        assert stored == 4  # the refused ones stored nothing
    finally:
        for app in apps:
            app.extensions["loanflow.runtime"].dispose()


def test_the_admission_rate_must_be_a_rate() -> None:
    from common.kernel.settings import Settings

    for raw in ("-1", "nan", "inf"):
        with pytest.raises(ValueError, match="LOANFLOW_ADMISSION_RATE"):
            Settings.from_env("loan", {"LOANFLOW_ADMISSION_RATE": raw})

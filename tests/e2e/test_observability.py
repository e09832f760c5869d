"""Operators' view of a real run: Prometheus metrics on every process, one correlation id per
application across all five services' logs, no personal data or token in any log, queue stats."""

from __future__ import annotations

import re
import time

import pytest
import requests

from tests.conftest import STAFF_TOKEN
from tests.e2e.conftest import Client
from tests.support.databases import sql
from tests.support.payloads import application
from tests.support.polling import TERMINAL, eventually
from tests.support.stack import SERVICES, Stack

pytestmark = [pytest.mark.slow]
STAFF = {"Authorization": f"Bearer {STAFF_TOKEN}"}
SENTINEL_NAME, SENTINEL_EMAIL = "Zyxwvu Sentinelle", "zyxwvu.sentinelle@example.org"


def scrape(url: str) -> dict[str, float]:
    text = requests.get(url, timeout=10).text
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def total(samples: dict[str, float], pattern: str) -> float:
    return sum(value for name, value in samples.items() if re.search(pattern, name))


@pytest.fixture(scope="module")
def decided(client: Client) -> list[dict]:
    accepted = [client.submit(application(applicant={"full_name": SENTINEL_NAME, "email": SENTINEL_EMAIL}))
                for _ in range(3)]
    for one in accepted:
        client.wait_for(one, TERMINAL)
    time.sleep(1.5)  # let notify finish its e-mails and the relays mark their rows
    return accepted


def test_every_process_exposes_metrics(decided: list[dict], stack: Stack) -> None:
    web = {s: scrape(f"{stack.service(s)}/{s}/metrics") for s in SERVICES}
    assert total(web["loan"], r'loanflow_http_requests_total\{.*endpoint="/loan/applications".*status="202"') >= 3
    assert total(web["loan"], r'loanflow_applications\{status="APPROVED"\}') >= 3
    assert total(web["loan"], r"loanflow_submission_to_decision_seconds_count") >= 3
    for service in SERVICES:
        assert f'loanflow_outbox_pending_rows{{service="{service}"}}' in web[service]
    offset = stack.offset
    workers = {s: scrape(f"http://127.0.0.1:{9191 + i + offset}/metrics") for i, s in enumerate(SERVICES)}
    assert total(workers["loan"], r'dramatiq_messages_total\{.*actor_name="loan.credit_checked"') >= 3
    assert total(workers["credit"], r'dramatiq_message_duration_milliseconds_count\{.*credit.check_credit') >= 3
    # Each worker hosts its service's relay: the relay's metrics are on the worker's exporter.
    assert total(workers["loan"], r"loanflow_outbox_published_total") >= 3 * 3
    assert total(workers["credit"], r"loanflow_outbox_publish_seconds_count") >= 3
    # notify owes each decision's e-mail once it has logged the change, which may come after loan's
    # GET says decided (a change that overtook its predecessor waits for it): wait for it.
    notify_worker = f"http://127.0.0.1:{9191 + SERVICES.index('notify') + offset}/metrics"
    published = eventually(lambda: total(scrape(notify_worker), r"loanflow_outbox_published_total"),
                           lambda n: n >= 3)
    assert published >= 3


def test_one_correlation_id_joins_an_application_across_services(decided: list[dict], stack: Stack) -> None:
    application_id = decided[0]["id"]
    services = set()
    for log in stack.log_dir.glob("*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if f'"correlation_id": "{application_id}"' in line:
                services.add(re.search(r'"service": "(\w+)"', line).group(1))  # type: ignore[union-attr]
    assert services >= set(SERVICES)


def test_no_personal_data_or_token_in_any_log(decided: list[dict], stack: Stack) -> None:
    token = decided[0]["access_token"]
    for log in stack.log_dir.glob("*.log"):
        text = log.read_text(errors="replace")
        assert SENTINEL_NAME not in text, log.name
        assert SENTINEL_EMAIL not in text, log.name
        assert token not in text, log.name


#: Personal data of an application whose saga step fails on a database error.
FAILING = {"full_name": "Quxbaz Erreurdebase", "email": "quxbaz.erreurdebase@example.org", "birth_date": "1961-07-23"}
#: Refuses to move that application on from the evaluation the submission started, i.e. fails
#: loan_worker's step that has both results in (a real PostgreSQL error that quotes the refused row).
REFUSE = ("ALTER TABLE applications ADD CONSTRAINT sentinel_refused CHECK "
          "(status IN ('SUBMITTED', 'EVALUATING') OR applicant::text NOT LIKE '%Quxbaz%') NOT VALID")


def test_no_personal_data_in_the_errors_of_a_failing_step(client: Client, stack: Stack) -> None:
    """A step failing on a database error: its recorded attempts and the logs name no applicant.

    (The dead letter stores the very texts of the last attempt; its columns are checked in
    tests/integration/test_dead_letters.py, where retries are short.)
    """

    def attempts() -> list[dict]:
        tasks = requests.get(f"{stack.gateway}/loan/tasks", params={"application_id": accepted["id"]},
                             headers=STAFF, timeout=10).json()
        return [attempt for task in tasks for attempt in task["attempts"]]

    sql(stack.urls["loan"], REFUSE)
    try:
        accepted = client.submit(application(applicant=FAILING))
        failed = eventually(attempts, lambda found: len(found) >= 2, 60)
    finally:
        sql(stack.urls["loan"], "ALTER TABLE applications DROP CONSTRAINT IF EXISTS sentinel_refused")
    texts = [attempt[key] for attempt in failed for key in ("error", "traceback")]
    assert len(texts) >= 4 and all("CheckViolation" in t and "sentinel_refused" in t for t in texts)
    for value in FAILING.values():
        assert not [t for t in texts if value in t], value
    client.wait_for(accepted, TERMINAL, timeout=120)  # the next retry succeeds: the saga goes on
    for log in stack.log_dir.glob("*.log"):
        logged = log.read_text(errors="replace")
        assert "sentinel_refused" in logged or not log.name.startswith("loan_worker")
        for value in FAILING.values():
            assert value not in logged, (log.name, value)


def test_queue_stats_and_task_search(decided: list[dict], stack: Stack) -> None:
    overview = requests.get(f"{stack.gateway}/credit/tasks/overview", headers=STAFF, timeout=10).json()
    work = next(q for q in overview["queues"] if q["queue"] == "credit")
    assert work["consumers"] >= 1
    actors = {a["actor"]: a for a in overview["actors"]}
    assert actors["credit.check_credit"]["succeeded"] >= 3
    assert actors["credit.check_credit"]["latency_p95_ms"] is not None
    tasks = requests.get(f"{stack.gateway}/loan/tasks", params={"application_id": decided[0]["id"]}, headers=STAFF,
                         timeout=10).json()
    assert {t["actor"] for t in tasks} >= {"loan.credit_checked",
                                           "loan.property_valued", "loan.decision_made"}
    assert all(t["state"] == "succeeded" for t in tasks)

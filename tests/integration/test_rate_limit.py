"""The per-address rate limit of ``POST /loan/applications`` (common/web/ratelimit.py) on real PostgreSQL.

Two instances of loan, each with its own engine and connection pool as two gunicorn workers or
two hosts would have, share one database and so one count: together they admit exactly the limit,
concurrently too. Beyond it the answer is ``429`` with ``Retry-After`` and ``RATE_LIMITED``, and
nothing is written (no application, no outbox row, not even the count). The window ends and the
address may submit again; ``0`` turns the limit off; an address cannot escape by writing its own
``X-Forwarded-For``; at capacity the ``503`` comes first and counts nothing; ended windows are
purged; a malformed setting stops the web process at start with a message naming it. The same
statement on SQLite (``make run``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from common.database.ratelimits import take
from common.database.retention import purge_expired
from common.kernel.clock import utcnow
from common.kernel.rates import RateLimit
from common.service.entrypoints import migrate, web_app
from common.service.runtime import Runtime
from loan_app import admission
from loan_app.adapters.orm import TABLES, OutboxMessage, applications
from tests.conftest import ROOT, make_settings
from tests.support.databases import truncate_all
from tests.support.payloads import application

pytestmark = [pytest.mark.postgres]

LIMIT = RateLimit(amount=3, seconds=60)
WINDOWS = TABLES.rate_limits
Post = Callable[..., Any]


def _runtime(app: Flask) -> Runtime:
    return app.extensions["loanflow.runtime"]


@pytest.fixture
def instances(pg_urls: dict[str, str]) -> Iterator[Callable[..., list[Flask]]]:
    """``instances(n, **settings)``: n loan apps on one emptied database, each with its own pool."""
    built: list[Flask] = []

    def make(count: int = 2, **overrides: object) -> list[Flask]:
        truncate_all("loan", pg_urls["loan"])
        settings = make_settings("loan", pg_urls["loan"], **{"submit_rate_limit": LIMIT, **overrides})
        built.extend(web_app("loan", settings) for _ in range(count))
        return built[-count:]

    yield make
    for app in built:
        _runtime(app).dispose()


def post(app: Flask, address: str = "198.51.100.7", body: Any = None, **headers: str) -> Any:
    """One submission from ``address`` (the peer the service sees), through a fresh test client."""
    return app.test_client().post("/loan/applications", json=application() if body is None else body,
                                  headers=headers, environ_base={"REMOTE_ADDR": address})


def stored(app: Flask) -> dict[str, Any]:
    """What the database holds: applications, outbox rows, and every window (hits, end)."""
    with _runtime(app).session_factory() as session:
        return {
            "applications": session.scalar(select(func.count()).select_from(applications)),
            "outbox": session.scalar(select(func.count()).select_from(OutboxMessage)),
            "windows": sorted((w.scope, w.hits, w.ends_at) for w in session.scalars(select(WINDOWS))),
        }


def assert_rate_limited(answer: Any, longest: int = LIMIT.seconds) -> int:
    """The documented refusal: 429, Retry-After in whole seconds, the common error format."""
    assert answer.status_code == 429, answer.get_data(as_text=True)
    wait = int(answer.headers["Retry-After"])
    assert 1 <= wait <= longest
    body = answer.get_json()
    assert (body["code"], body["status"], body["errors"]) == (429, "Too Many Requests", {"reason": "RATE_LIMITED"})
    assert body["message"]
    return wait


def test_the_count_is_shared_by_instances_and_a_refusal_writes_nothing(instances: Callable[..., list[Flask]]) -> None:
    a, b = instances(2)
    assert [post(a).status_code, post(b).status_code, post(a).status_code] == [202, 202, 202]
    before = stored(a)
    assert before["windows"][0][:2] == ("submit", 3)
    assert_rate_limited(post(b))
    assert_rate_limited(post(a))
    assert stored(b) == before  # no application, no outbox row, the window neither grown nor moved
    assert post(a, address="203.0.113.20").status_code == 202  # another address has its own count


def test_concurrent_submissions_through_two_instances_admit_exactly_the_limit(
        instances: Callable[..., list[Flask]]) -> None:
    apps = instances(2, submit_rate_limit=RateLimit(5, 60))
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: post(apps[n % 2]).status_code, range(16)))
    assert sorted(answers) == [202] * 5 + [429] * 11
    assert stored(apps[0])["applications"] == 5


def test_the_window_ends_and_the_address_submits_again(instances: Callable[..., list[Flask]]) -> None:
    (app,) = instances(1, submit_rate_limit=RateLimit(2, 2))
    assert [post(app).status_code, post(app).status_code] == [202, 202]
    wait = assert_rate_limited(post(app), longest=2)
    time.sleep(wait + 0.1)
    assert post(app).status_code == 202
    assert [hits for _, hits, _ in stored(app)["windows"]] == [1]  # a new window, counted from 1


def test_zero_turns_the_limit_off(instances: Callable[..., list[Flask]]) -> None:
    (app,) = instances(1, submit_rate_limit=None)
    assert {post(app).status_code for _ in range(LIMIT.amount * 3)} == {202}
    assert stored(app)["windows"] == []


def test_an_address_cannot_escape_by_writing_its_own_x_forwarded_for(instances: Callable[..., list[Flask]]) -> None:
    (app,) = instances(1)
    # Straight to the service: the peer is the client, whatever header it sends.
    spoofed = [post(app, **{"X-Forwarded-For": f"192.0.2.{n}"}).status_code for n in range(LIMIT.amount + 1)]
    assert spoofed == [202] * LIMIT.amount + [429]
    # Through the gateway (a trusted loopback peer): the hop the gateway appended, last, counts.
    through = [post(app, address="127.0.0.1", **{"X-Forwarded-For": f"192.0.2.{n}, 203.0.113.9"}).status_code
               for n in range(LIMIT.amount + 1)]
    assert through == [202] * LIMIT.amount + [429]
    assert post(app, address="127.0.0.1", **{"X-Forwarded-For": "203.0.113.10"}).status_code == 202


def test_every_attempt_counts_and_at_capacity_the_503_comes_first_and_counts_nothing(
        instances: Callable[..., list[Flask]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admission, "REFRESH_SECONDS", 0.0)  # the gate counts at every request
    (app,) = instances(1, max_in_evaluation=1)
    assert post(app, body={"loan": {}}).status_code == 422  # invalid, yet an attempt
    assert post(app).status_code == 202
    windows = stored(app)["windows"]
    assert [hits for _, hits, _ in windows] == [2]
    full = post(app)
    assert full.status_code == 503 and full.get_json()["errors"] == {"reason": "AT_CAPACITY"}
    assert stored(app)["windows"] == windows


def test_ended_windows_are_purged_with_the_other_expired_rows(instances: Callable[..., list[Flask]]) -> None:
    (app,) = instances(1)
    rt = _runtime(app)
    with rt.session_factory() as session, session.begin():
        assert take(session, WINDOWS, "submit", "ended", LIMIT, utcnow() - timedelta(seconds=61)) is None
    assert post(app).status_code == 202
    assert len(stored(app)["windows"]) == 2
    assert purge_expired(rt) >= 1
    assert [hits for _, hits, _ in stored(app)["windows"]] == [1]  # the current window stays


def test_retry_after_never_exceeds_the_window_when_a_later_clock_opened_it(
        instances: Callable[..., list[Flask]]) -> None:
    """Two concurrent requests: the one whose ``now`` is a few ms later opens the window; the
    other, refused, is told at most the window's length (it was told 61 s of a 60 s window)."""
    (app,) = instances(1)
    rt, now = _runtime(app), utcnow()
    with rt.session_factory() as session, session.begin():
        for _ in range(LIMIT.amount):
            assert take(session, WINDOWS, "submit", "race", LIMIT, now + timedelta(milliseconds=20)) is None
        assert take(session, WINDOWS, "submit", "race", LIMIT, now) == LIMIT.seconds


def test_the_limit_is_documented_on_the_operation(instances: Callable[..., list[Flask]]) -> None:
    (app,) = instances(1)
    operations = app.test_client().get("/loan/openapi.json").get_json()["paths"]["/loan/applications"]
    refusal = operations["post"]["responses"]["429"]
    assert "LOANFLOW_SUBMIT_RATE_LIMIT" in refusal["description"] and "RATE_LIMITED" in refusal["description"]
    assert refusal["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
    assert refusal["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "429" not in operations["get"]["responses"]


def test_the_same_count_on_sqlite_for_the_embedded_mode(tmp_path: Path) -> None:
    settings = make_settings("loan", f"sqlite:///{tmp_path / 'loan.db'}", submit_rate_limit=RateLimit(2, 60))
    migrate("loan", settings)
    app = web_app("loan", settings)
    try:
        assert [post(app).status_code for _ in range(2)] == [202, 202]
        assert_rate_limited(post(app))
        assert stored(app)["applications"] == 2
    finally:
        _runtime(app).dispose()


def test_a_malformed_limit_stops_the_web_process_at_start(pg_urls: dict[str, str]) -> None:
    env = {**os.environ, "LOAN_DATABASE_URL": pg_urls["loan"], "LOANFLOW_SUBMIT_RATE_LIMIT": "20 a minute"}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    started = subprocess.run([str(gunicorn), "loan_app:create_app()", "--bind", "127.0.0.1:0", "--workers", "1"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode != 0
    assert "LOANFLOW_SUBMIT_RATE_LIMIT='20 a minute' is not a rate limit" in started.stdout + started.stderr

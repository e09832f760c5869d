"""``make run``'s embedded default, as a user runs it: one process, SQLite, no broker server.

Started exactly as the Makefile does (``python -m loanflow.cli embedded``), on free ports and a
temporary data folder; an application submitted over HTTP reaches its decision in seconds, the
applicant's e-mail lands in ``var/mail`` with the schedule, and the live stream works.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import STAFF_TOKEN
from tests.support.embedded import embedded_env
from tests.support.live import with_ticket
from tests.support.payloads import application
from tests.support.polling import eventually
from tests.support.servers import free_port
from tests.support.smtp import received

pytestmark = [pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def start_embedded(var: Path, port: int, **env_extra: str) -> subprocess.Popen:
    """``python -m loanflow.cli embedded`` on ``port`` with its data in ``var``, once it is ready."""
    env = embedded_env(var, **env_extra)
    log = (var / "embedded.log").open("ab")
    process = subprocess.Popen([sys.executable, "-m", "loanflow.cli", "embedded", "--port", str(port)], cwd=ROOT,
                               env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(120):
        try:
            if requests.get(f"http://127.0.0.1:{port}/loan/ready", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.25)
    return process


#: The embedded mode's metrics port in the module's run (``LOANFLOW_METRICS_PORT``).
METRICS_PORT = free_port()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    var = tmp_path_factory.mktemp("embedded-var")
    port = free_port()
    process = start_embedded(var, port, LOANFLOW_METRICS_PORT=str(METRICS_PORT))
    try:
        yield f"http://127.0.0.1:{port}", var
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_an_application_is_decided_in_seconds_and_the_applicant_is_told(embedded: tuple[str, Path]) -> None:
    base, var = embedded
    started = time.monotonic()
    accepted = requests.post(f"{base}/loan/applications", json=application(), timeout=10).json()
    auth = {"Authorization": f"Bearer {accepted['access_token']}"}
    body: dict = {}
    while time.monotonic() - started < 30:
        body = requests.get(f"{base}/loan/applications/{accepted['id']}", headers=auth, timeout=5).json()
        if body["status"] == "APPROVED":
            break
        time.sleep(0.2)
    assert body["status"] == "APPROVED", body.get("history")
    assert time.monotonic() - started < 30
    for _ in range(50):
        mails = [m for m in received(var / "mail") if accepted["id"] in str(m["Message-ID"])]
        if mails:
            break
        time.sleep(0.2)
    assert len(mails) == 1 and len(list(mails[0].iter_attachments())) == 2
    stream = requests.get(base + with_ticket(base, f"/notify/applications/{accepted['id']}/events",
                                             accepted["access_token"]), stream=True, timeout=10)
    assert stream.status_code == 200
    seen = b""
    for chunk in stream.iter_content(chunk_size=None):
        seen += chunk
        if b"APPROVED" in seen:
            break
    stream.close()
    assert b"event: status" in seen and b"APPROVED" in seen
    for page in ("/notify/dashboard", "/tasks", "/loan/docs", "/notify/docs"):
        assert requests.get(base + page, timeout=5).status_code == 200, page
    health = requests.get(f"{base}/health", timeout=5)
    assert health.status_code == 200, health.text
    assert health.json()["routes"] == ["auth", "credit", "decision", "loan", "notify", "property", "tasks"]
    missing = requests.get(f"{base}/nowhere", timeout=5)
    assert missing.status_code == 404 and missing.json()["message"] == "No service answers this path."


def test_metrics_are_served_on_the_metrics_port_only(embedded: tuple[str, Path]) -> None:
    """As the gateway does, the public port refuses ``/<svc>/metrics``; the metrics port serves
    them (and nothing else)."""
    base, _ = embedded
    metrics = f"http://127.0.0.1:{METRICS_PORT}"
    for service in ("loan", "credit", "property", "decision", "notify"):
        assert requests.get(f"{base}/{service}/metrics", timeout=5).status_code == 404
        scraped = requests.get(f"{metrics}/{service}/metrics", timeout=5)
        assert scraped.status_code == 200 and "loanflow_http_requests_total" in scraped.text
    assert requests.get(f"{base}/loan//metrics", timeout=5).status_code == 404
    assert requests.get(f"{metrics}/loan/applications", timeout=5).status_code == 404


def test_gunicorns_own_refusals_are_json(embedded: tuple[str, Path]) -> None:
    base, _ = embedded
    too_long = requests.get(f"{base}/loan/applications", params={"status": "x" * 9000}, timeout=5)
    assert too_long.status_code == 414 and too_long.json()["code"] == 414, too_long.text
    big_header = requests.get(f"{base}/loan/health", headers={"X-Padding": "x" * 9000}, timeout=5)
    assert big_header.status_code == 431 and big_header.json()["code"] == 431, big_header.text


def _open_stream(url: str) -> requests.Response | None:
    """A staff stream, opened and held; ``None`` if the server did not even answer its headers."""
    try:
        return requests.get(url, headers={"Authorization": f"Bearer {STAFF_TOKEN}"}, stream=True, timeout=(5, 20))
    except requests.RequestException:
        return None


def test_open_live_streams_never_starve_the_apis(embedded: tuple[str, Path]) -> None:
    """The issue: 40 staff streams took every thread of the one process; no API answered."""
    base, _ = embedded
    with ThreadPoolExecutor(max_workers=48) as pool:
        streams = list(pool.map(_open_stream, [f"{base}/notify/events"] * 48))
    try:
        answered = [s.status_code for s in streams if s is not None]
        assert 200 in answered and set(answered) <= {200, 429, 503}, answered
        # Generous deadlines (seconds, where answers take milliseconds): failing means no answer.
        assert requests.get(f"{base}/loan/health", timeout=15).status_code == 200
        assert requests.post(f"{base}/loan/applications", json=application(), timeout=15).status_code == 202
    finally:
        for stream in streams:
            if stream is not None:
                stream.close()

    def held() -> float:
        metrics = requests.get(f"http://127.0.0.1:{METRICS_PORT}/notify/metrics", timeout=10).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                   if line.startswith("loanflow_live_connections{"))

    assert eventually(held, lambda count: count == 0) == 0


def test_a_crash_loses_no_application(tmp_path: Path) -> None:
    # The in-process broker keeps its messages in memory: killed while the credit check is in
    # flight (a slow bureau), the application would stay EVALUATING for ever. At the restart the
    # outboxes send again what no consumer applied, and the application ends, told once.
    port = free_port()
    process = start_embedded(tmp_path, port, BUREAU_LATENCY_MS="4000")
    base = f"http://127.0.0.1:{port}"
    try:
        accepted = requests.post(f"{base}/loan/applications", json=application(), timeout=10).json()
        auth = {"Authorization": f"Bearer {accepted['access_token']}"}
        read = lambda: requests.get(f"{base}/loan/applications/{accepted['id']}", headers=auth, timeout=5)  # noqa: E731
        assert eventually(read, lambda r: r.json()["status"] == "EVALUATING").json()["status"] == "EVALUATING"
        time.sleep(0.5)  # the credit check is now waiting on the bureau, in the killed process
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)
    process = start_embedded(tmp_path, port)
    try:
        body = eventually(lambda: read().json(), lambda b: b["status"] in ("APPROVED", "REJECTED", "FAILED"),
                          timeout=60)
        assert body["status"] == "APPROVED", body["history"]
        url = f"{base}/notify/applications/{accepted['id']}/notifications"
        logged = eventually(lambda: [n["status"] for n in requests.get(url, headers=auth, timeout=5).json()],
                            lambda statuses: len(statuses) == len(body["history"]))
        assert logged == [h["status"] for h in body["history"]]
        mails = eventually(lambda: [m for m in received(tmp_path / "mail") if accepted["id"] in str(m["Message-ID"])],
                           lambda found: len(found) >= 1)
        assert len(mails) == 1
    finally:
        process.terminate()
        process.wait(timeout=20)

"""``make run``'s embedded default, as a user runs it: one process, SQLite, no broker server.

Started exactly as the Makefile does (``python -m common.cli embedded``), on free ports and a
temporary data folder; an application submitted over HTTP reaches its decision in seconds, the
applicant's e-mail lands in ``var/mail`` with the schedule, and the live stream works.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.payloads import application
from tests.support.smtp import received

pytestmark = [pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    var = tmp_path_factory.mktemp("embedded-var")
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.endswith("_DATABASE_URL") and key not in ("BROKER_URL", "SMTP_HOST", "SMTP_PORT")}
    env.update(LOANFLOW_VAR_DIR=str(var), BUREAU_URL=f"http://127.0.0.1:{free_port()}",
               LOANFLOW_MAIL_PORT=str(free_port()), LOANFLOW_STAFF_TOKEN="embedded-staff")
    log = (var / "embedded.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "common.cli", "embedded", "--port", str(port)], cwd=ROOT,
                               env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if requests.get(f"{base}/loan/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.25)
        yield base, var
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
    stream = requests.get(f"{base}/notify/applications/{accepted['id']}/events",
                          params={"token": accepted["access_token"]}, stream=True, timeout=10)
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
    assert health.json()["routes"] == ["credit", "decision", "loan", "notify", "property", "tasks"]
    missing = requests.get(f"{base}/nowhere", timeout=5)
    assert missing.status_code == 404 and missing.json()["message"] == "No service answers this path."

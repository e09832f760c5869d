"""The whole system as real processes on RabbitMQ and PostgreSQL, shared by the e2e tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import SECRET_KEY, STAFF_TOKEN
from tests.support.databases import reset_database
from tests.support.stack import SERVICES, Stack, reset_vhost

VHOST = "loanflow_test_e2e"
TERMINAL = {"APPROVED", "REJECTED", "WITHDRAWN", "FAILED", "EXPIRED"}


def stack_env(urls: dict[str, str]) -> dict[str, str]:
    env = {f"{name.upper()}_DATABASE_URL": url for name, url in urls.items()}
    env.update(
        BROKER_URL=f"amqp://guest:guest@127.0.0.1:5672/{VHOST}",
        LOANFLOW_STAFF_TOKEN=STAFF_TOKEN,
        LOANFLOW_SECRET_KEY=SECRET_KEY,
        LOANFLOW_STEP_MAX_RETRIES="3",
        LOANFLOW_MIN_BACKOFF_MS="100",
        LOANFLOW_MAX_BACKOFF_MS="1000",
        LOANFLOW_RELAY_POLL_SECONDS="0.05",
        BUREAU_LATENCY_MS="20",
    )
    return env


@pytest.fixture(scope="session")
def stack(servers: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every Procfile process, started once for the e2e session, stopped at the end."""
    urls = {name: reset_database(name, prefix="loanflow_e2e") for name in SERVICES}
    reset_vhost(VHOST)
    logs: Path = tmp_path_factory.mktemp("stack-logs")
    running = Stack(stack_env(urls), logs)
    running.env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path_factory.mktemp("prometheus"))
    running.start()
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


class Client:
    """A small HTTP client of the gateway, as an applicant or staff would use it."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(f"{self.base}/loan/applications", json=body, timeout=10)
        assert response.status_code == 202, response.text
        return response.json()

    def get(self, accepted: dict[str, Any]) -> dict[str, Any]:
        response = self.http.get(f"{self.base}/loan/applications/{accepted['id']}",
                                 headers={"Authorization": f"Bearer {accepted['access_token']}"}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(self, accepted: dict[str, Any], statuses: set[str], timeout: float = 45) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            body = self.get(accepted)
            if body["status"] in statuses:
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"still {body['status']} after {timeout}s: {body['history']}")
            time.sleep(0.2)

    def post(self, accepted: dict[str, Any], action: str, json: Any = None) -> requests.Response:
        return self.http.post(f"{self.base}/loan/applications/{accepted['id']}/{action}", json=json,
                              headers={"Authorization": f"Bearer {accepted['access_token']}"}, timeout=10)


@pytest.fixture(scope="session")
def client(stack: Stack) -> Client:
    return Client(stack.gateway)

"""The whole system as real processes on RabbitMQ and PostgreSQL, shared by the e2e tests."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.support.stack import Stack, launched

TERMINAL = {"APPROVED", "REJECTED", "WITHDRAWN", "FAILED", "EXPIRED"}


@pytest.fixture(scope="session")
def stack(servers: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every Procfile process, started once for the e2e session, stopped at the end."""
    # Overridable so that two test sessions on one machine do not collide.
    offset = int(os.environ.get("LOANFLOW_TEST_PORT_OFFSET", "10000"))
    suffix = "" if offset == 10_000 else f"_{offset}"
    with launched(f"loanflow_e2e{suffix}", f"loanflow_test_e2e{suffix}", offset,
                  tmp_path_factory.mktemp("e2e-logs")) as (running, _):
        yield running


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

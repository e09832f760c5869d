"""The whole system as real processes on RabbitMQ and PostgreSQL, shared by the e2e tests."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

import pytest
import requests

from tests.support.stack import Stack


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

    def wait_for(self, accepted: dict[str, Any], statuses: Collection[str], timeout: float = 45) -> dict[str, Any]:
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

"""A system of real processes dedicated to fault injection (its own databases, vhost and ports)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.support.stack import Stack, launched


@dataclass
class System:
    stack: Stack
    urls: dict[str, str]

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(f"{self.stack.gateway}/loan/applications", json=body, timeout=30)
        assert response.status_code == 202, response.text
        return response.json()

    def submit_many(self, bodies: list[dict[str, Any]], workers: int = 16) -> list[str]:
        with ThreadPoolExecutor(workers) as pool:
            return [accepted["id"] for accepted in pool.map(self.submit, bodies)]

    def bureau_faults(self, latency_ms: int = 20, failure_rate: float = 0.0) -> None:
        response = requests.put(f"{self.stack.bureau}/v1/_faults",
                                json={"latency_ms": latency_ms, "failure_rate": failure_rate}, timeout=5)
        assert response.status_code == 200, response.text

    def restart(self, name: str) -> None:
        self.stack.stop(name)
        self.stack.start(name)

    def log(self, name: str) -> str:
        return (self.stack.log_dir / f"{name}.log").read_text(errors="replace")


def rabbitmq(command: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", command], check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def system(servers: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    env = {
        "LOANFLOW_STEP_MAX_RETRIES": "8",
        "LOANFLOW_MIN_BACKOFF_MS": "200",
        "LOANFLOW_MAX_BACKOFF_MS": "2000",
        "LOANFLOW_STEP_TIMEOUT_SECONDS": "90",
    }
    with launched("loanflow_faults", "loanflow_test_faults", 11_000, tmp_path_factory.mktemp("fault-logs"),
                  **env) as (stack, urls):
        yield System(stack, urls)

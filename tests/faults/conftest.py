"""A system of real processes dedicated to fault injection (its own databases, vhost and ports)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import dramatiq
import pytest
import requests
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from sqlalchemy import Row

from common.messaging.relay import to_message
from tests.support import invariants, servers
from tests.support.stack import Stack


@dataclass
class System:
    stack: Stack
    urls: dict[str, str]
    servers: servers.Servers

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

    def bureau_requests(self, references: list[str]) -> dict[str, Any]:
        """The bureau's inquiries in flight and the requests received per reference (``GET /v1/_requests``)."""
        response = requests.get(f"{self.stack.bureau}/v1/_requests", params={"reference": references}, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    @staticmethod
    def outbox_message(row: Row[Any]) -> dramatiq.Message:
        """The message the relay publishes for an outbox ``row`` (read with ``databases.sql``)."""
        return to_message(SimpleNamespace(**row._mapping))

    def enqueue(self, *messages: dramatiq.Message) -> None:
        """Put ``messages`` on the system's broker directly, as a relay would (duplicates, late ones)."""
        broker = RabbitmqBroker(url=self.stack.env["BROKER_URL"], confirm_delivery=True)
        try:
            for message in messages:
                broker.enqueue(message)
        finally:
            broker.close()

    def restart(self, name: str) -> None:
        self.stack.stop(name)
        self.stack.start(name)

    def log(self, name: str) -> str:
        return (self.stack.log_dir / f"{name}.log").read_text(errors="replace")


def rabbitmq(command: str) -> None:
    """``rabbitmqctl <command>`` on the session's own node."""
    servers.current.rabbitmq.ctl(command)


@pytest.fixture(scope="module")
def system(stack: Stack) -> System:
    """The session's running system (tests/conftest.py), which each fault test heals."""
    return System(stack, stack.urls, servers.current)


@pytest.fixture(autouse=True)
def queues_drained_and_dead_letters_accounted(system: System) -> Iterator[None]:
    """I4 after every fault test: whatever the fault, the broker's queues drain and no message
    ends in a dead-letter table unless its application failed (checked once the test healed)."""
    before = invariants.dead_letter_ids(system.urls)
    yield
    invariants.check_i4(system.urls, system.stack.vhost, before)

"""BureauClient end to end against the real simulator, served over real HTTP in a thread.

Why no mocks of ``requests``: timeouts, connection pooling, status mapping and retries are exactly
what a mock would fake; the simulator is fast enough to run for real. Attempts are counted with a
``requests`` response hook on a real session.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
import requests

from credit_app.adapters.bureau import (
    BureauClient,
    BureauRejected,
    BureauReport,
    BureauUnavailable,
)
from tests.support.bureau import Bureau, served_bureau


@contextmanager
def _port_nobody_listens_on() -> Iterator[int]:
    """A local port held (bound, never listening) so no other process takes it meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture(scope="module")
def bureau() -> Iterator[Bureau]:
    with served_bureau() as running:
        yield running


@pytest.fixture(autouse=True)
def _no_faults(bureau: Bureau) -> None:
    bureau.set_faults(latency_ms=0, failure_rate=0.0)


@pytest.fixture
def client(bureau: Bureau) -> Iterator[BureauClient]:
    bureau_client = BureauClient(bureau.url, timeout=1.0, attempts=2)
    yield bureau_client
    bureau_client.close()


class CountingSession(requests.Session):
    """A real session that counts the HTTP answers it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.responses = 0
        self.hooks["response"].append(self._count)

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.responses += 1


def test_found_person_with_one_incident(client: BureauClient) -> None:
    report = client.inquire("loan-1", "Paul Defaut", "1975-03-12")
    assert isinstance(report, BureauReport)
    assert report.inquiry_id
    assert (report.found, report.payment_incidents, report.open_credits) == (True, 1, 0)
    assert report.open_credits_monthly == Decimal(0)


def test_unknown_person(client: BureauClient) -> None:
    report = client.inquire("loan-2", "Personne Inconnue", "2001-02-03")
    assert (report.found, report.payment_incidents, report.open_credits) == (False, 0, 0)
    assert report.open_credits_monthly == Decimal(0)


def test_open_credit_total_is_an_exact_decimal(client: BureauClient) -> None:
    report = client.inquire("loan-3", "marc CREDIT", "1979-11-05")
    assert report.open_credits == 2
    assert isinstance(report.open_credits_monthly, Decimal)
    assert str(report.open_credits_monthly) == "650.00"


def test_same_reference_gives_the_same_inquiry(client: BureauClient) -> None:
    first = client.inquire("loan-4", "Claire Retard", "1982-07-24")
    assert client.inquire("loan-4", "Claire Retard", "1982-07-24") == first
    assert first.payment_incidents == 2


def test_cancel_is_idempotent(bureau: Bureau, client: BureauClient) -> None:
    inquiry_id = client.inquire("loan-5", "Alice Propre", "1992-04-15").inquiry_id
    client.cancel(inquiry_id)
    client.cancel(inquiry_id)
    client.cancel("inq_never_existed")  # 404: already gone counts as cancelled
    status = requests.get(f"{bureau.url}/v1/inquiries/{inquiry_id}", timeout=2).json()["status"]
    assert status == "cancelled"


@pytest.mark.parametrize("attempts", [1, 3])
def test_outage_raises_unavailable_after_all_attempts(bureau: Bureau, attempts: int) -> None:
    bureau.set_faults(failure_rate=1.0)
    session = CountingSession()
    bureau_client = BureauClient(bureau.url, timeout=1.0, attempts=attempts, session=session)
    with pytest.raises(BureauUnavailable) as raised:
        bureau_client.inquire("loan-6", "Alice Propre", "1992-04-15")
    assert raised.value.status_code == 503
    assert session.responses == attempts


def test_cancel_during_outage_raises_unavailable(bureau: Bureau, client: BureauClient) -> None:
    inquiry_id = client.inquire("loan-7", "Alice Propre", "1992-04-15").inquiry_id
    bureau.set_faults(failure_rate=1.0)
    with pytest.raises(BureauUnavailable):
        client.cancel(inquiry_id)


def test_latency_above_read_timeout_is_unavailable(bureau: Bureau) -> None:
    bureau.set_faults(latency_ms=600)
    session = CountingSession()
    bureau_client = BureauClient(bureau.url, timeout=0.2, attempts=2, session=session)
    started = time.monotonic()
    with pytest.raises(BureauUnavailable) as raised:
        bureau_client.inquire("loan-8", "Alice Propre", "1992-04-15")
    elapsed = time.monotonic() - started
    assert isinstance(raised.value.__cause__, requests.Timeout)
    assert session.responses == 0
    assert 0.4 <= elapsed < 1.5  # two 0.2 s reads plus a short backoff, not the 0.6 s latency twice


def test_invalid_request_is_rejected_without_retry(bureau: Bureau) -> None:
    session = CountingSession()
    bureau_client = BureauClient(bureau.url, attempts=3, session=session)
    with pytest.raises(BureauRejected) as raised:
        bureau_client.inquire("loan-9", "Paul Defaut", "12/03/1975")
    assert raised.value.status_code == 400
    assert session.responses == 1


def test_unreachable_bureau_is_unavailable() -> None:
    with _port_nobody_listens_on() as port:
        bureau_client = BureauClient(f"http://127.0.0.1:{port}", timeout=0.5, attempts=2)
        with pytest.raises(BureauUnavailable):
            bureau_client.inquire("loan-10", "Alice Propre", "1992-04-15")

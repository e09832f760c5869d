"""A surge meets a worker restart, with admission control on (issue 17).

loan_web runs with ``LOANFLOW_MAX_IN_EVALUATION``; applications are offered far faster than the
stack decides them while the credit worker is killed (``kill -9``) and started again. Beyond the
bound the API answers 503 with ``Retry-After`` and ``AT_CAPACITY`` and stores nothing; every
application it accepted reaches exactly one terminal state (I1–I4), and none FAILED: the backlog
the surge and the restart left in the queues did not run into the step deadlines.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.faults.conftest import System
from tests.support import invariants
from tests.support.databases import sql_value
from tests.support.payloads import application

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]

BOUND = 12
IN_EVALUATION = "SELECT count(*) FROM applications WHERE status IN ('SUBMITTED', 'EVALUATING', 'DECIDING')"


@pytest.fixture
def bounded(system: System) -> Iterator[System]:
    """loan_web restarted with the bound; restarted without it afterwards, whatever happened."""
    system.stack.env["LOANFLOW_MAX_IN_EVALUATION"] = str(BOUND)
    system.restart("loan_web")
    system.stack.wait_ready()
    try:
        yield system
    finally:
        system.stack.env.pop("LOANFLOW_MAX_IN_EVALUATION", None)
        system.restart("loan_web")
        system.stack.wait_ready()


def _offer(system: System) -> tuple[int, str | None, str | None]:
    """One POST: its status, the id it accepted, and the Retry-After + reason of a refusal."""
    response = requests.post(f"{system.stack.gateway}/loan/applications", json=application(), timeout=30)
    if response.status_code == 202:
        return 202, response.json()["id"], None
    reason = (response.json().get("errors") or {}).get("reason") if response.status_code == 503 else None
    return response.status_code, None, f"{response.headers.get('Retry-After')}/{reason}"


def test_surge_with_a_worker_restart_ends_every_accepted_application(bounded: System) -> None:
    system = bounded
    answers: list[tuple[int, str | None, str | None]] = []
    peak = 0
    with ThreadPoolExecutor(8) as pool:
        started = time.monotonic()
        futures = []
        killed = restarted = False
        while time.monotonic() - started < 20:  # ~25 offers/s for 20 s: several times what the stack decides
            futures.append(pool.submit(_offer, system))
            elapsed = time.monotonic() - started
            if not killed and elapsed > 5:
                system.stack.kill("credit_worker")  # kill -9 mid-surge: checks in flight are redelivered
                killed = True
            if killed and not restarted and elapsed > 10:
                system.stack.start("credit_worker")
                restarted = True
            if len(futures) % 10 == 0:
                peak = max(peak, sql_value(system.urls["loan"], IN_EVALUATION))
            time.sleep(0.04)
        answers = [future.result() for future in futures]
    accepted = [application_id for code, application_id, _ in answers if code == 202]
    refused = [detail for code, _, detail in answers if code == 503]
    assert {code for code, _, _ in answers} <= {202, 503}, sorted({code for code, _, _ in answers})
    assert accepted and refused, (len(accepted), len(refused))
    assert all(detail and detail.split("/")[0].isdigit() and detail.endswith("/AT_CAPACITY")
               for detail in refused), set(refused)
    # A soft bound: each of loan_web's two processes reuses its count for 0.25 s.
    assert peak <= 2 * BOUND, peak
    print(f"surge: {len(answers)} offered, {len(accepted)} accepted, {len(refused)} refused, peak {peak} in evaluation")
    statuses = invariants.check(system.urls, accepted)
    assert set(statuses.values()) == {"APPROVED"}, {s for s in statuses.values() if s != "APPROVED"}

"""The invariants every fault test checks from the outside, on the services' own databases.

I1: every accepted application reaches exactly one terminal state; its history has one terminal
transition and consecutive sequence numbers. I2: no outbox row is left unpublished. I3: every
effect was applied once: notify logged each transition exactly once and in the same order as
loan_app recorded them (so the applicant was told of the outcome exactly once), a credit inquiry
left behind by a failed or withdrawn application is cancelled, and decisions match outcomes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import create_engine, text

TERMINAL = ("APPROVED", "REJECTED", "WITHDRAWN", "FAILED", "EXPIRED")


def _rows(url: str, sql: str, **params: object) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def wait_until_drained(urls: dict[str, str], timeout: float = 60) -> None:
    """I2: every service's outbox is empty of unsent rows (waits for the relays)."""
    deadline = time.monotonic() + timeout
    while True:
        pending = {name: _rows(url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0]
                   for name, url in urls.items()}
        if not any(pending.values()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"unpublished outbox rows remain: {pending}")
        time.sleep(0.5)


def wait_until_terminal(urls: dict[str, str], ids: Iterable[str], timeout: float = 120) -> dict[str, str]:
    """Every application in ``ids`` terminal (polling loan_app's database); returns their status."""
    wanted = set(ids)
    deadline = time.monotonic() + timeout
    while True:
        rows = dict(_rows(urls["loan"], "SELECT id, status FROM applications WHERE id = ANY(:ids)", ids=list(wanted)))
        waiting = {i: rows.get(i) for i in wanted if rows.get(i) not in TERMINAL}
        if not waiting:
            return rows
        if time.monotonic() > deadline:
            sample = dict(list(waiting.items())[:5])
            raise AssertionError(f"{len(waiting)} applications not terminal, e.g. {sample}")
        time.sleep(0.5)


def check(urls: dict[str, str], ids: Iterable[str], settle: float = 30) -> dict[str, str]:
    """Assert I1–I3 for ``ids``, waiting up to ``settle`` seconds for compensations to land."""
    ids = list(ids)
    wait_until_terminal(urls, ids)
    deadline = time.monotonic() + settle
    while True:
        try:
            wait_until_drained(urls)
            return _check_once(urls, ids)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def _check_once(urls: dict[str, str], ids: list[str]) -> dict[str, str]:
    statuses = dict(_rows(urls["loan"], "SELECT id, status FROM applications WHERE id = ANY(:ids)", ids=ids))
    assert set(statuses) == set(ids), "accepted applications are missing from loan_app"
    history: dict[str, list[tuple[int, str]]] = {i: [] for i in ids}
    for application_id, seq, status in _rows(
            urls["loan"], "SELECT application_id, seq, to_status FROM application_history "
                          "WHERE application_id = ANY(:ids) ORDER BY application_id, seq", ids=ids):
        history[application_id].append((seq, status))
    told: dict[str, list[tuple[int, str]]] = {i: [] for i in ids}
    for application_id, seq, status in _rows(
            urls["notify"], "SELECT application_id, seq, status FROM notifications "
                            "WHERE application_id = ANY(:ids) ORDER BY application_id, seq", ids=ids):
        told[application_id].append((seq, status))
    inquiries = dict(_rows(urls["credit"], "SELECT application_id, status FROM credit_inquiries "
                                           "WHERE application_id = ANY(:ids)", ids=ids))
    credit_state = dict(_rows(urls["loan"], "SELECT id, credit->>'status' FROM applications WHERE id = ANY(:ids)",
                              ids=ids))
    decided = dict(_rows(urls["decision"], "SELECT DISTINCT ON (application_id) application_id, outcome "
                                           "FROM decisions WHERE application_id = ANY(:ids) "
                                           "ORDER BY application_id, round DESC", ids=ids))
    for application_id in ids:
        status, steps = statuses[application_id], history[application_id]
        assert status in TERMINAL, (application_id, status)
        assert [seq for seq, _ in steps] == list(range(1, len(steps) + 1)), (application_id, steps)
        assert [s for _, s in steps if s in TERMINAL] == [status], (application_id, steps)
        assert told[application_id] == steps, (application_id, told[application_id], steps)
        if status in ("APPROVED", "REJECTED"):
            assert decided.get(application_id) == status, (application_id, decided.get(application_id))
            assert inquiries.get(application_id) == "COMPLETED", (application_id, inquiries.get(application_id))
        elif credit_state.get(application_id) in ("PENDING", "DONE") and application_id in inquiries:
            # A failed or withdrawn application leaves no active inquiry behind (compensation).
            assert inquiries[application_id] == "CANCELLED", (application_id, status)
    return statuses

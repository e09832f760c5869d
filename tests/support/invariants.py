"""The invariants every fault test checks from the outside, on the services' own databases.

I1: every accepted application reaches exactly one terminal state; its history has one terminal
transition and consecutive sequence numbers. I2: no outbox row is left unpublished. I3: every
effect was applied once: notify logged each transition exactly once and in the same order as
loan_app recorded them (so the applicant was told of the outcome exactly once), a credit inquiry
left behind by a failed or withdrawn application is cancelled, and decisions match outcomes.
I4: every queue of the system's vhost drains (work, ``.DQ`` retry and ``.XQ`` dead-letter
queues: nothing ready, nothing unacknowledged), and every dead letter parked meanwhile is
accounted for: its application ended ``FAILED`` (the saga gave up on it and compensated) or the
test expected it. Queue depths come from the management API, which refreshes them every few
seconds, hence the waits.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from urllib.parse import quote

from tests.support import servers
from tests.support.databases import sql
from tests.support.polling import TERMINAL


def wait_until_drained(urls: dict[str, str], timeout: float = 60) -> None:
    """I2: every service's outbox is empty of unsent rows (waits for the relays)."""
    deadline = time.monotonic() + timeout
    while True:
        pending = {name: sql(url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0]
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
        rows = dict(sql(urls["loan"], "SELECT id, status FROM applications WHERE id = ANY(:ids)", ids=list(wanted)))
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
    statuses = dict(sql(urls["loan"], "SELECT id, status FROM applications WHERE id = ANY(:ids)", ids=ids))
    assert set(statuses) == set(ids), "accepted applications are missing from loan_app"
    history: dict[str, list[tuple[int, str]]] = {i: [] for i in ids}
    for application_id, seq, status in sql(
            urls["loan"], "SELECT application_id, seq, to_status FROM application_history "
                          "WHERE application_id = ANY(:ids) ORDER BY application_id, seq", ids=ids):
        history[application_id].append((seq, status))
    told: dict[str, list[tuple[int, str]]] = {i: [] for i in ids}
    for application_id, seq, status in sql(
            urls["notify"], "SELECT application_id, seq, status FROM notifications "
                            "WHERE application_id = ANY(:ids) ORDER BY application_id, seq", ids=ids):
        told[application_id].append((seq, status))
    inquiries = dict(sql(urls["credit"], "SELECT application_id, status FROM credit_inquiries "
                                         "WHERE application_id = ANY(:ids)", ids=ids))
    credit_state = dict(sql(urls["loan"], "SELECT id, credit->>'status' FROM applications WHERE id = ANY(:ids)",
                            ids=ids))
    decided = dict(sql(urls["decision"], "SELECT DISTINCT ON (application_id) application_id, outcome "
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


# --- I4: queues drained, dead letters accounted for ------------------------------------------


def queue_backlog(vhost: str) -> dict[str, dict[str, int]]:
    """Queues of ``vhost`` holding messages: ``{queue: {"ready": n, "unacked": m}}``."""
    queues = servers.current.rabbitmq.api(f"queues/{quote(vhost, safe='')}")
    assert isinstance(queues, list), queues
    depths = {q["name"]: {"ready": q.get("messages_ready", 0) or 0, "unacked": q.get("messages_unacknowledged", 0) or 0}
              for q in queues}
    return {name: depth for name, depth in depths.items() if depth["ready"] or depth["unacked"]}


def wait_until_queues_drained(vhost: str, timeout: float = 60) -> None:
    """I4a: every queue of ``vhost`` (``.DQ`` and ``.XQ`` included) empty and nothing unacked.

    Fails when the backlog has not shrunk for ``timeout`` seconds: a burst's hundreds of document
    messages take minutes on a loaded machine yet drain steadily, while a stuck queue never moves.
    """
    deadline, lowest = time.monotonic() + timeout, float("inf")
    while backlog := queue_backlog(vhost):
        left = sum(depth["ready"] + depth["unacked"] for depth in backlog.values())
        if left < lowest:
            deadline, lowest = time.monotonic() + timeout, left
        if time.monotonic() > deadline:
            raise AssertionError(f"queues not drained in {vhost!r}, stuck for {timeout} s: {backlog}")
        time.sleep(1)


def dead_letter_ids(urls: dict[str, str]) -> set[tuple[str, str]]:
    """``{(service, dead letter id)}`` of every service: a baseline taken before a fault."""
    return {(name, row[0]) for name, url in urls.items() for row in sql(url, "SELECT id FROM dead_letters")}


def unaccounted_dead_letters(urls: dict[str, str], before: Collection[tuple[str, str]],
                             expected: Collection[str] = ()) -> list[dict[str, object]]:
    """Dead letters parked since ``before`` whose application did not end ``FAILED`` and whose
    message id is not in ``expected``: each one is a message the system dropped silently."""
    letters = [{"service": name, "id": row[0], "actor": row[1], "application_id": row[2], "message_id": row[3],
                "error": (row[4] or "")[:200]}
               for name, url in urls.items()
               for row in sql(url, "SELECT id, actor, application_id, message_id, error FROM dead_letters")
               if (name, row[0]) not in before]
    owners = [letter["application_id"] for letter in letters if letter["application_id"]]
    failed = {row[0] for row in sql(urls["loan"], "SELECT id FROM applications WHERE id = ANY(:ids) "
                                                  "AND status = 'FAILED'", ids=owners)}
    return [letter for letter in letters
            if letter["application_id"] not in failed and letter["message_id"] not in expected]


def check_i4(urls: dict[str, str], vhost: str, before: Collection[tuple[str, str]],
             expected: Collection[str] = (), timeout: float = 60) -> None:
    """Assert I4: queues drained, then every dead letter parked since ``before`` accounted for
    (after the drain, so that what the relays moved out of ``.XQ`` is counted too)."""
    wait_until_queues_drained(vhost, timeout)
    unaccounted = unaccounted_dead_letters(urls, before, expected)
    assert not unaccounted, f"{len(unaccounted)} dead letters unaccounted for: {unaccounted[:5]}"

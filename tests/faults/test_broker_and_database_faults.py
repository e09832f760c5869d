"""Faults of the servers themselves (FAULTS.md #5–#10), on the session's own RabbitMQ node,
PostgreSQL cluster and the TCP proxy every process reaches the broker through.

Each test breaks a server or the link to it while applications are in flight, heals it in a
``finally``, and checks the invariants from the outside: I1–I3 (tests/support/invariants.py
``check``) and I4 (queues drained, no dead letter unaccounted for; the autouse fixture of
tests/faults/conftest.py, and explicitly here where the fault makes it the point).
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.faults.conftest import System
from tests.support import invariants
from tests.support.databases import OBSERVER, sql_value
from tests.support.payloads import application
from tests.support.polling import eventually
from tests.support.servers import ROOT, Servers

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]


def people(count: int) -> list[dict[str, Any]]:
    return [application() for _ in range(count)]


def unsent(system: System, service: str = "loan") -> int:
    """Outbox rows of ``service`` not yet confirmed by the broker."""
    return sql_value(system.urls[service], "SELECT count(*) FROM outbox WHERE sent_at IS NULL")


def depth(servers: Servers, vhost: str, queue: str) -> int:
    """Messages ready on one queue (the management API's figure, refreshed every few seconds)."""
    found = servers.rabbitmq.api(f"queues/{quote(vhost, safe='')}/{queue}")
    return int(found.get("messages_ready") or 0)  # type: ignore[union-attr]


def all_approved(system: System, ids: list[str], before: set[tuple[str, str]]) -> None:
    """I1–I3 for ``ids``, each approved (decided once), then I4."""
    statuses = invariants.check(system.urls, ids)
    assert set(statuses.values()) == {"APPROVED"}, statuses
    invariants.check_i4(system.urls, system.stack.vhost, before)


def _still(servers: Servers, vhost: str) -> tuple[int, int]:
    """``(credit, credit.DQ)`` ready counts once two samples a second apart agree."""
    while True:
        first = (depth(servers, vhost, "credit"), depth(servers, vhost, "credit.DQ"))
        threading.Event().wait(1.0)
        if (depth(servers, vhost, "credit"), depth(servers, vhost, "credit.DQ")) == first:
            return first


def test_broker_killed_with_a_backlog_and_retries_pending(system: System, servers: Servers) -> None:
    """FAULTS #5: persistent messages on durable queues survive ``kill -9`` of the node, both the
    backlog of a stopped lane and the retries waiting in ``credit.DQ``; the delayed retries run."""
    before = invariants.dead_letter_ids(system.urls)
    vhost = system.stack.vhost
    system.bureau_faults(failure_rate=1.0)
    try:
        retrying = system.submit_many(people(6))
        # Stop the lane as soon as retries are pending: waiting longer would spend the retry
        # budget (about 11 s of backoff) of the first messages on a loaded machine. kill -9, not
        # SIGTERM: a graceful stop keeps moving delayed retries that fall due (after 200 ms) to
        # ``credit`` while it winds down; a dead consumer's unacked ones go back to credit.DQ.
        attempts = "SELECT count(*) FROM task_attempts WHERE application_id = ANY(:ids)"
        assert eventually(lambda: sql_value(system.urls["credit"], attempts, ids=retrying), lambda n: n >= 3) >= 3
        system.stack.kill("credit_worker")
        backlog = system.submit_many(people(8))
        invariants.wait_until_drained(system.urls)  # every CheckCredit is on the broker now
        # At least 14 CheckCredit messages wait: the 8 new ones and the first 6, retries among them
        # delayed. More is allowed: a worker killed between publishing a retry and acking the
        # attempt leaves both (at least once; the consumer deduplicates). Read until two samples
        # agree: the backlog is still, so what the crash must keep is known exactly.
        counts = eventually(lambda: _still(servers, vhost), lambda c: sum(c) >= 14 and c[1] > 0, timeout=60)
        assert sum(counts) >= 14 and counts[1] > 0, counts
        servers.rabbitmq.kill()
        servers.rabbitmq.start()
        after = eventually(lambda: (depth(servers, vhost, "credit"), depth(servers, vhost, "credit.DQ")),
                           lambda c: c == counts, timeout=60)
        assert after == counts, f"messages lost in the crash: {counts} before, {after} after"
    finally:
        if servers.rabbitmq.process is None:
            servers.rabbitmq.start()
        system.bureau_faults(failure_rate=0.0)
        if "credit_worker" not in system.stack.processes:
            system.stack.start("credit_worker")
    all_approved(system, retrying + backlog, before)


def test_broker_link_black_hole_beyond_two_heartbeats(system: System) -> None:
    """FAULTS #8: the link goes silent (no FIN, no RST) for three heartbeats: heartbeats notice,
    processes reconnect once it heals, unconfirmed rows are published again, nothing twice."""
    before = invariants.dead_letter_ids(system.urls)
    link = system.stack.broker_link
    assert link is not None
    flowing = system.submit_many(people(8))
    link.blackhole()
    try:
        during = system.submit_many(people(8))  # the outbox keeps them: the API answers 202
        assert eventually(lambda: unsent(system), lambda n: n >= 8) >= 8
        threading.Event().wait(15)  # the fault itself: silence beyond two 5 s heartbeats
        assert unsent(system) >= 8, "rows were marked sent while nothing reached the broker"
    finally:
        link.heal()
    all_approved(system, flowing + during, before)


def test_broker_link_slow_and_lossy(system: System) -> None:
    """FAULTS #9: 1 s ± 0.3 s latency and 30 % of chunks stalled 1.5 s more (TCP retransmissions)
    while applications flow: a publish whose confirm is late or lost stays unsent and goes out
    again (deduplicated); once healed the outbox drains and every application is decided once."""
    before = invariants.dead_letter_ids(system.urls)
    link = system.stack.broker_link
    assert link is not None
    forwarded = int(link.stats()["forwarded_bytes"])  # type: ignore[call-overload]
    link.degrade(latency_ms=1000, jitter_ms=300, stall_rate=0.3, stall_ms=1500)
    try:
        ids = system.submit_many(people(10))
        threading.Event().wait(15)  # the fault itself: fifteen seconds of a bad network
        assert int(link.stats()["forwarded_bytes"]) > forwarded  # type: ignore[call-overload]
    finally:
        link.heal()
    invariants.wait_until_drained(system.urls)
    all_approved(system, ids, before)


def production_watermark() -> str:
    """``vm_memory_high_watermark.relative`` of deploy/rabbitmq/rabbitmq.conf (what to restore)."""
    conf = (ROOT / "deploy/rabbitmq/rabbitmq.conf").read_text()
    found = re.search(r"^vm_memory_high_watermark\.relative\s*=\s*([0-9.]+)\s*$", conf, re.MULTILINE)
    assert found, "deploy/rabbitmq/rabbitmq.conf sets no relative memory watermark"
    return found.group(1)


def memory_alarm(servers: Servers) -> bool:
    nodes = servers.rabbitmq.api("nodes")
    return any(node.get("mem_alarm") for node in nodes if node["name"] == servers.rabbitmq.node)  # type: ignore[union-attr]


def test_broker_memory_alarm_blocks_publishers_then_clears(system: System, servers: Servers) -> None:
    """FAULTS #10: with publishers blocked the API still answers 202 and the outbox grows; once
    the alarm clears, no process is left stuck in a blocked publish: everything drains."""
    before = invariants.dead_letter_ids(system.urls)
    servers.rabbitmq.ctl("set_vm_memory_high_watermark", "0.0001")
    try:
        assert eventually(lambda: memory_alarm(servers), bool, timeout=30)
        ids = system.submit_many(people(10))
        assert eventually(lambda: unsent(system), lambda n: n >= 10) >= 10
    finally:
        servers.rabbitmq.ctl("set_vm_memory_high_watermark", production_watermark())
    assert eventually(lambda: memory_alarm(servers), lambda on: not on, timeout=30) is False
    all_approved(system, ids, before)


@dataclass
class Burst:
    """Applicants posting until told to stop; every answer kept, every 202's id recorded."""

    system: System
    accepted: list[str] = field(default_factory=list)
    refused: list[tuple[int, str, str | None, str]] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def post_until_stopped(self) -> None:
        while not self.stop.is_set():
            try:
                response = requests.post(f"{self.system.stack.gateway}/loan/applications", json=application(),
                                         timeout=30)
            except requests.RequestException as error:  # a hang (timeout) or a dropped connection
                self.broken.append(repr(error))
                continue
            if response.status_code == 202:
                self.accepted.append(response.json()["id"])
            else:
                headers = response.headers
                self.refused.append((response.status_code, headers.get("Content-Type", ""),
                                     headers.get("Retry-After"), response.text[:200]))
            self.stop.wait(0.2)  # pacing: a handful of applicants, not a load test


def test_postgres_crash_mid_request_no_202_without_a_commit(system: System, servers: Servers) -> None:
    """FAULTS #6: PostgreSQL stopped in immediate mode (a crash) under a stream of POSTs, then
    started: every 202 is a committed application that completes; the outage answers JSON 5xx,
    never a hang; the services recover without being restarted (``pool_pre_ping``)."""
    before = invariants.dead_letter_ids(system.urls)
    burst = Burst(system)
    with ThreadPoolExecutor(4) as pool:
        for _ in range(4):
            pool.submit(burst.post_until_stopped)
        try:
            assert eventually(lambda: len(burst.accepted), lambda n: n >= 8, timeout=30) >= 8
            servers.postgres.stop("immediate")
            assert eventually(lambda: len(burst.refused), lambda n: n >= 4, timeout=30) >= 4
        finally:
            if not servers.postgres.running():
                servers.postgres.start()
            crashed_at = len(burst.accepted)
        assert eventually(lambda: len(burst.accepted), lambda n: n >= crashed_at + 5, timeout=60) >= crashed_at + 5
        burst.stop.set()
    assert not burst.broken, burst.broken[:5]
    # The database is a dependency that is down, not a bug: 503 with Retry-After, as JSON.
    assert all(status == 503 and kind.startswith("application/json") and retry
               for status, kind, retry, _ in burst.refused), burst.refused[:5]
    statuses = invariants.check(system.urls, burst.accepted)
    assert set(statuses) == set(burst.accepted)
    assert set(statuses.values()) == {"APPROVED"}, statuses
    invariants.check_i4(system.urls, system.stack.vhost, before)


def terminate_backends(url: str) -> int:
    """``pg_terminate_backend`` every session of the service on the database of ``url`` (the
    test's own observers spared); how many died."""
    database = url.rsplit("/", 1)[1]
    return int(sql_value(url, "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE datname = :d AND pid <> pg_backend_pid() AND application_name <> :o",
                         d=database, o=OBSERVER))


def test_credit_connections_killed_inside_consumer_transactions(system: System) -> None:
    """FAULTS #7: credit_app's connections terminated over and over while its consumers work:
    each cut transaction rolls back and is retried; no message is wrongly taken as processed
    (an application would then never pass its credit check)."""
    before = invariants.dead_letter_ids(system.urls)
    killed: list[int] = []
    stop = threading.Event()

    def cut_again_and_again() -> None:
        # Started before the first submission: on a fast machine the credit checks can all be
        # done by the time ``submit_many`` returns, and a loop started afterwards cut nothing.
        while not stop.is_set():
            killed.append(terminate_backends(system.urls["credit"]))
            stop.wait(0.2)  # pacing: cut again and again, leaving room for progress

    cutter = threading.Thread(target=cut_again_and_again, daemon=True)
    cutter.start()
    try:
        ids = system.submit_many(people(15))
        done = "SELECT count(*) FROM credit_inquiries WHERE application_id = ANY(:ids) AND status = 'COMPLETED'"
        deadline = time.monotonic() + 60
        while sql_value(system.urls["credit"], done, ids=ids) < len(ids) and time.monotonic() < deadline:
            stop.wait(0.2)
    finally:
        stop.set()
        cutter.join(timeout=10)
    assert sum(killed) > 0, "no credit_app connection was ever terminated: the fault did not happen"
    all_approved(system, ids, before)

"""CPU and SQL statements per message of the three step workers' handlers (credit, property, decision).

``python -m bench.steps [-n N] [--profile FILE]`` drives each handler through
:func:`common.messaging.consumers.apply_once` (the very code path of the Dramatiq actor, without
the broker) N times against the machine's PostgreSQL (``BENCH_PG_URL``, default
``postgresql+psycopg://postgres@127.0.0.1:5432``; one database per service,
``loanflow_bench_steps_<svc>``, reset and migrated on each run), with the bureau simulator in a
gunicorn process of its own for credit (``BUREAU_LATENCY_MS=0``). It prints, per message type,
the CPU seconds of *this* process per message (``time.process_time``: PostgreSQL and the
simulator are other processes, and are left out on purpose) and the SQL statements per message
(a ``before_cursor_execute`` counter on the service's engine).

Why a microbenchmark and not the end-to-end one: on a shared two-core machine wall-clock figures
mean nothing, but the CPU a process spends per message is stable to a few per cent.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import event

from bench import consumer as consumer_bench
from common.kernel.clock import isoformat, utcnow
from common.kernel.logs import configure_logging
from common.kernel.settings import Settings
from common.messaging.consumers import apply_once
from common.messaging.contracts import spec_for
from common.messaging.envelope import Envelope
from common.messaging.outbox import new_id
from common.service.entrypoints import load_definition
from common.service.runtime import Runtime

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
PREFIX = os.environ.get("BENCH_STEPS_DB_PREFIX", "loanflow_bench_steps")
ROOT = Path(__file__).resolve().parents[1]

APPLICANT = {"full_name": "Alice Propre", "birth_date": "1992-04-15", "employment_status": "permanent",
             "monthly_income": "5200.00", "monthly_debts": "0.00"}
PROPERTY = {"address": "12 rue de la République", "postcode": "69002", "city": "Lyon", "kind": "apartment",
            "surface_m2": "75", "price": "340000"}
#: What MakeDecision carries once credit and property answered (an approval, the common case).
DECISION_FACTS: dict[str, Any] = {
    "loan": {"amount": "200000", "duration_months": 240}, "information": {},
    "applicant": {key: APPLICANT[key] for key in ("employment_status", "monthly_income", "monthly_debts")},
    "credit": {"score": 720, "payment_incidents": 0, "open_credits": 0, "debt_to_income": "0.0000",
               "bureau_found": True, "monthly_income": "5200.00", "monthly_debts": "0.00"},
    "valuation": {"estimated_value": "360000.00", "price_per_m2": "4800.00", "loan_to_value": "0.5556",
                  "reference": "city:Lyon", "adjustments": []},
}


def fresh_database(service: str) -> str:
    """``<PREFIX>_<service>`` emptied and migrated from scratch; returns its URL."""
    return consumer_bench.fresh_database(PG_URL, service, prefix=PREFIX)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def bureau_simulator() -> Iterator[str]:
    """The simulator as the Procfile runs it (gunicorn gthread), without latency; yields its URL."""
    port = _free_port()
    env = {**os.environ, "BUREAU_LATENCY_MS": "0", "BUREAU_FAILURE_RATE": "0", "BUREAU_SEED": "1"}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "loanflow.bureau_simulator:create_app()", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--threads", "8", "--worker-class", "gthread"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/v1/inquiries/none", timeout=5)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the bureau simulator did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


class StatementCounter:
    """Counts the SQL statements an engine sends (and which kinds), between two :meth:`reset`."""

    def __init__(self, rt: Runtime) -> None:
        self.kinds: Counter[str] = Counter()
        event.listen(rt.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        words = statement.split(None, 3)
        writes = words and words[0] in ("INSERT", "UPDATE", "DELETE")
        kind = " ".join(words[:3]) if writes else (words[0] if words else "")
        if kind == "SELECT" and "FOR UPDATE" in statement:
            kind = "SELECT FOR UPDATE"
        self.kinds[kind] += 1

    def reset(self) -> Counter[str]:
        seen, self.kinds = self.kinds, Counter()
        return seen


def deliver(rt: Runtime, name: str, application_id: str, data: dict[str, Any]) -> bool:
    """Apply one message as the Dramatiq actor would (same wire form, same ``apply_once``)."""
    envelope = Envelope(message_id=new_id(), event_id=new_id(), type=name, application_id=application_id,
                        correlation_id=application_id, occurred_at=isoformat(utcnow()), data=data)
    return apply_once(rt, rt.bindings.handlers[name], spec_for(name).actor_name(rt.name), envelope.message_id,
                      envelope.to_wire(), int(time.time() * 1000))


#: (row label, service, message, payload of the i-th message, id of the i-th application).
Case = tuple[str, str, str, Callable[[int], dict[str, Any]]]
CASES: list[Case] = [
    ("credit CheckCredit", "credit", "CheckCredit", lambda i: {"applicant": APPLICANT, "round": 1}),
    ("credit CancelCreditInquiry", "credit", "CancelCreditInquiry", lambda i: {"reason": "application failed"}),
    ("property ValueProperty", "property", "ValueProperty",
     lambda i: {"property": PROPERTY, "loan_amount": "200000", "round": 1}),
    ("decision MakeDecision", "decision", "MakeDecision", lambda i: {**DECISION_FACTS, "round": 1}),
]


def run_case(rt: Runtime, counter: StatementCounter, case: Case, ids: list[str], warmup: int,
             profiler: cProfile.Profile | None) -> dict[str, Any]:
    """Deliver ``case``'s message once per id (the first ``warmup`` not measured)."""
    label, _service, name, payload = case
    for i, application_id in enumerate(ids[:warmup]):
        deliver(rt, name, application_id, payload(i))
    measured = ids[warmup:]
    counter.reset()
    if profiler:
        profiler.enable()
    started = time.process_time()
    for i, application_id in enumerate(measured):
        deliver(rt, name, application_id, payload(i))
    cpu = time.process_time() - started
    if profiler:
        profiler.disable()
    kinds = counter.reset()
    n = len(measured)
    return {"label": label, "n": n, "cpu_ms": cpu / n * 1000, "statements": sum(kinds.values()) / n,
            "kinds": {kind: count / n for kind, count in sorted(kinds.items())}}


def runtime(service: str, bureau_url: str) -> Runtime:
    settings = Settings(service=service, database_url=fresh_database(service), bureau_url=bureau_url)
    return Runtime(load_definition(service), settings)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=400, help="measured messages per case")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--profile", help="write a cProfile of the measured loops to this file")
    parser.add_argument("--only", help="run only the cases whose label contains this")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of every case; the table keeps each case's cheapest (least disturbed)")
    args = parser.parse_args(argv)
    configure_logging("bench", "INFO")  # the workers log as much as this (to stderr, dropped below)
    for handler in logging.getLogger().handlers:
        handler.setStream(open(os.devnull, "w"))  # type: ignore[attr-defined]  # noqa: SIM115
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    best: dict[str, dict[str, Any]] = {}
    with bureau_simulator() as bureau_url:
        runtimes: dict[str, Runtime] = {}
        counters: dict[str, StatementCounter] = {}
        for _round in range(args.rounds):
            ids = [new_id() for _ in range(args.warmup + args.n)]  # CancelCreditInquiry cancels these checks
            for case in CASES:
                if args.only and args.only not in case[0]:
                    continue
                service = case[1]
                if service not in runtimes:
                    runtimes[service] = runtime(service, bureau_url)
                    counters[service] = StatementCounter(runtimes[service])
                row = run_case(runtimes[service], counters[service], case, ids, args.warmup, profiler)
                if row["label"] not in best or row["cpu_ms"] < best[row["label"]]["cpu_ms"]:
                    best[row["label"]] = row
        for rt in runtimes.values():
            rt.dispose()
    results = list(best.values())
    if profiler:
        profiler.dump_stats(args.profile)
    print(f"{'message':30} {'n':>5} {'CPU ms/msg':>11} {'SQL/msg':>8}  statements per message")
    for row in results:
        kinds = ", ".join(f"{kind} {count:g}" for kind, count in row["kinds"].items())
        print(f"{row['label']:30} {row['n']:5d} {row['cpu_ms']:11.2f} {row['statements']:8.2f}  {kinds}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""CPU cost of applying ONE message in a worker, against a real PostgreSQL database.

``python -m bench.consumer [--messages 500] [--rounds 5] [--cases …] [--server postgresql+psycopg://postgres@127.0.0.1:5432]``

Every consumer of every service goes through :func:`common.messaging.consumers.apply_once`
(dedupe, handler, processed id, outbox rows, commit), so its fixed cost is paid ~14 times per
application. This drives it in this process on a database of its own
(``loanflow_bench_consumer_<service>``, dropped and migrated with the service's migrations at
start) and prints, per message: the CPU of this process (``time.process_time``: what a worker
spends, wall-clock waits on PostgreSQL excluded; the lowest and the median of ``--rounds``
rounds, as the machine is shared), the SQL statements sent (SQLAlchemy's
``before_cursor_execute``), the pool's liveness pings (``dialect.do_ping``), and the transactions
PostgreSQL counted (``pg_stat_database``: commits + rollbacks, the pings' own included).

Cases:

- ``no-op``: a handler that does nothing, on decision's database: the floor of ``apply_once``.
- ``notice``: a handler that changes no row and records one message: the outbox path alone.
- ``duplicate``: messages delivered again (skipped by the dedupe).
- ``decision``: decision's real ``MakeDecision`` handler (a lookup, a new row, one outbox row;
  its policy's amortization table is most of its cost).
- ``worker``: the ``decision`` case through a one-thread Dramatiq worker on the stub broker with
  our middleware (decoding, Supervision, retries, current message): what a worker process does
  per delivery, bar RabbitMQ's client.
- ``property``: property's two-phase ``ValueProperty`` (no simulated delay).

Logging is configured as in a worker (JSON lines at INFO) and written to ``/dev/null``.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dramatiq
from sqlalchemy import Engine, create_engine, event, text

from common.kernel.clock import isoformat, utcnow
from common.kernel.logs import configure_logging
from common.kernel.settings import Settings
from common.messaging.consumers import apply_once
from common.messaging.contracts import spec_for
from common.messaging.envelope import Envelope
from common.messaging.outbox import new_id
from common.messaging.recorder import Notice
from common.service.runtime import Runtime
from tests.support.payloads import BASE
from tests.unit.test_decision_handlers import FACTS as DECISION_FACTS

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PREFIX = "loanflow_bench_consumer"
#: Cases run on decision's database beside its own handler.
DECISION_EXTRAS = ("no-op", "notice", "duplicate", "worker")

#: decision's handler tests' facts (credit, valuation, loan): an application it approves.
FACTS = {**DECISION_FACTS, "round": 1}
PROPERTY = {"property": BASE["property"], "loan_amount": "200000", "round": 1}

Run = Callable[[], None]


@dataclass
class Counts:
    """What one engine sent to PostgreSQL."""

    statements: int = 0
    pings: int = 0

    def watch(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._statement)
        ping = engine.dialect.do_ping

        def counted_ping(dbapi_connection: Any) -> bool:
            self.pings += 1
            return ping(dbapi_connection)

        engine.dialect.do_ping = counted_ping  # type: ignore[method-assign]

    def _statement(self, *_args: Any) -> None:
        self.statements += 1


def fresh_database(server: str, service: str, prefix: str = PREFIX) -> str:
    """Drop and re-create ``<prefix>_<service>`` on ``server``, migrated to the service's heads."""
    from common.database.migrations import upgrade
    from common.service.entrypoints import load_definition

    name = f"{prefix}_{service}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    upgrade(load_definition(service), f"{server}/{name}")
    return f"{server}/{name}"


def transactions(url: str) -> int:
    """Commits + rollbacks PostgreSQL counted in the database of ``url`` (from another connection).

    A backend reports its counters when it exits (or when idle, up to 10 s late): the caller
    closes its pooled connections first.
    """
    engine = create_engine(url.rsplit("/", 1)[0] + "/postgres")
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        value = connection.scalar(text("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                                       "WHERE datname = :name"), {"name": url.rsplit("/", 1)[1]})
    engine.dispose()
    return int(value or 0)


def wire(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The Dramatiq argument of a message about a new application."""
    application_id = new_id()
    return {"event_id": new_id(), "type": name, "application_id": application_id,
            "correlation_id": application_id, "occurred_at": isoformat(utcnow()), "data": data}


def measure(label: str, rt: Runtime, counts: Counts, n: int, rounds: int,
            make_run: Callable[[], Run]) -> dict[str, Any]:
    """``rounds`` runs of ``make_run()`` (each applies ``n`` fresh messages): CPU per message
    (the lowest round and the median: the machine is shared), statements, pings, transactions."""
    cpus, statements, pings, xacts = [], 0, 0, 0
    for _ in range(rounds):
        run = make_run()
        rt.engine.dispose()
        before = transactions(rt.settings.database_url)
        counts.statements = counts.pings = 0
        cpu = time.process_time()
        run()
        cpus.append((time.process_time() - cpu) / n * 1e6)
        statements, pings = statements + counts.statements, pings + counts.pings
        rt.engine.dispose()
        time.sleep(0.2)  # the backends' exit
        xacts += transactions(rt.settings.database_url) - before
    total = n * rounds
    return {"case": label, "messages": total, "cpu_min": min(cpus), "cpu_median": statistics.median(cpus),
            "statements": statements / total, "pings": pings / total, "transactions": xacts / total}


def apply_all(rt: Runtime, name: str, handler: Any, wires: list[tuple[str, dict[str, Any]]]) -> Run:
    actor = spec_for(name).actor_name(rt.name)

    def run() -> None:
        for message_id, body in wires:
            apply_once(rt, handler, actor, message_id, body, int(time.time() * 1000))

    return run


def via_worker(rt: Runtime, wires: list[tuple[str, dict[str, Any]]]) -> Run:
    """Deliver ``wires`` through a one-thread Dramatiq worker with our broker middleware."""
    from common.messaging.broker import build_broker
    from common.messaging.consumers import register_actors

    broker = build_broker(rt.settings)  # embedded settings: the stub broker, our middleware
    actor = register_actors(rt, broker)[spec_for("MakeDecision").actor_name("decision")]
    for message_id, body in wires:  # encoded now (the relay's work), decoded by the worker
        broker.enqueue(actor.message(body).copy(message_id=message_id))

    def run() -> None:
        worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=20)
        worker.start()
        broker.join(actor.queue_name)  # type: ignore[attr-defined]
        worker.stop()

    return run


def notice(envelope: Envelope, uow: Any) -> None:
    """A handler that changes no row and sends one message (to one consumer)."""
    uow.track(Notice.about(envelope)).record("DecisionFailed", {"code": "X", "message": "m", "round": 1})


def cases_of(rt: Runtime, n: int) -> dict[str, tuple[str, Callable[[], Run]]]:
    """``{case: (label, make_run)}`` on ``rt``'s service."""
    name = "MakeDecision" if rt.name == "decision" else "ValueProperty"
    handler = rt.bindings.handlers[name]
    data = FACTS if rt.name == "decision" else PROPERTY

    def fresh() -> list[tuple[str, dict[str, Any]]]:
        return [(new_id(), wire(data, name)) for _ in range(n)]

    def duplicates() -> Run:
        wires = fresh()
        apply_all(rt, name, handler, wires)()
        return apply_all(rt, name, handler, wires)

    return {
        rt.name: (f"{rt.name}: {name}", lambda: apply_all(rt, name, handler, fresh())),
        "no-op": ("decision: no-op handler", lambda: apply_all(rt, name, lambda _e, _u: None, fresh())),
        "notice": ("decision: one message, no row", lambda: apply_all(rt, name, notice, fresh())),
        "duplicate": ("decision: duplicate", duplicates),
        "worker": ("decision: MakeDecision, worker", lambda: via_worker(rt, fresh())),
    }


def bench(server: str, n: int, rounds: int, cases: list[str]) -> list[dict[str, Any]]:
    from common.service.entrypoints import load_definition

    rows = []
    for service in ("decision", "property"):
        wanted = [c for c in cases if c == service or (service == "decision" and c in DECISION_EXTRAS)]
        if not wanted:
            continue
        rt = Runtime(load_definition(service), Settings(service=service, database_url=fresh_database(server, service)))
        counts = Counts()
        counts.watch(rt.engine)
        known = cases_of(rt, n)
        known[rt.name][1]()()  # warm-up: imports, statement caches, connections
        for case in wanted:
            label, make_run = known[case]
            rows.append(measure(label, rt, counts, n, rounds, make_run))
        rt.dispose()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    header = f"{'case':<34} {'msgs':>6} {'CPU µs min':>11} {'median':>7} {'stmts':>6} {'pings':>6} {'xacts':>6}"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(f"{r['case']:<34} {r['messages']:>6} {r['cpu_min']:>11.0f} {r['cpu_median']:>7.0f} "
                     f"{r['statements']:>6.2f} {r['pings']:>6.2f} {r['transactions']:>6.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=500, help="messages per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--server", default=SERVER, help="PostgreSQL server URL, without a database")
    parser.add_argument("--cases", default="no-op,notice,duplicate,decision,worker,property")
    args = parser.parse_args(argv)
    configure_logging("bench", "INFO")
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for handler in logging.getLogger().handlers:
        handler.setStream(devnull)  # type: ignore[attr-defined]
    print(table(bench(args.server, args.messages, args.rounds, args.cases.split(","))))


if __name__ == "__main__":
    main()

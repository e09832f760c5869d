"""The outbox relay alone, on the machine's PostgreSQL and RabbitMQ: ``python -m bench.relay``.

Two measurements, on a fresh ``<prefix>_loan`` database (loan's real schema) and a fresh vhost:

1. **drain**: ``--rows`` unsent outbox rows are inserted first, then one relay publishes them as
   fast as it can (RabbitMQ with publisher confirms, the production broker class); reported:
   confirmed messages per second and the relay's CPU per message (``time.process_time`` of this
   process, in which nothing else runs meanwhile; PostgreSQL's and RabbitMQ's own CPU is not in it).
2. **lag**: another process commits outbox rows at ``--rate`` rows/s for ``--seconds``
   (``--rows-per-commit`` rows per transaction, each with the unit of work's ``NOTIFY``), open
   loop; the relay runs as in a service (woken by ``LISTEN``, polling every 0.2 s otherwise).
   Reported: the outbox lag (``created_at`` → ``sent_at``) p50 / p99 / max, and CPU per message.

Messages go to the real queues (``loan``, ``notify``) of the scratch vhost, where nothing consumes
them; the vhost and database are dropped at the end. ``run(...)`` returns the figures as a dict
(``bench.run`` can add them to its table); ``main`` prints a table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, text

from common.kernel.clock import isoformat, utcnow
from common.kernel.settings import Settings
from common.messaging.outbox import new_id
from tests.support import servers

SPAWN = multiprocessing.get_context("spawn")  # the relay thread must not be forked mid-flight
#: The outbox of one real service (loan): its table, its indexes.
SERVICE = "loan"


def _payload(index: int) -> dict[str, Any]:
    """About 600 bytes, like an ``ApplicationSubmitted``."""
    return {"occurred_at": isoformat(utcnow()), "application_id": new_id(), "round": 1,
            "applicant": {"full_name": f"Bench Applicant {index}", "email": f"bench{index}@example.org",
                          "birth_date": "1990-01-01", "employment_status": "permanent",
                          "monthly_income": "5200", "monthly_debts": "0"},
            "property": {"address": "12 rue de la République", "postcode": "69002", "city": "Lyon",
                         "kind": "apartment", "surface_m2": 75, "price": 340000},
            "loan": {"amount": 200000, "duration_months": 240}}


def _rows(count: int, created_at: Any = None) -> list[dict[str, Any]]:
    rows = []
    for index in range(count):
        queue = ("loan", "notify")[index % 2]
        rows.append({"id": new_id(), "event_id": new_id(), "message_type": "ApplicationSubmitted",
                     "queue": queue, "actor": f"{queue}.application_submitted", "application_id": new_id(),
                     "correlation_id": new_id(), "payload": _payload(index), "attempts": 0,
                     "created_at": created_at or utcnow()})
    return rows


def _outbox() -> Any:
    from common.service.entrypoints import load_definition

    return load_definition(SERVICE).outbox_model


def _relay(settings: Settings, **options: Any) -> Any:
    from common.database.db import make_engine, make_session_factory
    from common.messaging.broker import build_broker
    from common.messaging.relay import OutboxRelay

    engine = make_engine(settings.database_url)
    relay = OutboxRelay(make_session_factory(engine), _outbox(), build_broker(settings),
                        batch_size=settings.relay_batch_size, **options)
    return relay, engine


def drain(settings: Settings, rows: int) -> dict[str, Any]:
    """Insert ``rows`` unsent rows, then publish them all with one relay, timed."""
    relay, engine = _relay(settings)
    table = _outbox().__table__
    with engine.begin() as connection:
        for start in range(0, rows + relay.batch_size, 1000):
            count = min(1000, rows + relay.batch_size - start)
            connection.execute(insert(table), _rows(count, utcnow() - timedelta(seconds=1)))
    relay.run_once()  # one batch to connect and declare the queues, outside the measurement
    cpu, wall, sent = time.process_time(), time.perf_counter(), 0
    while (batch := relay.run_once()) > 0:
        sent += batch
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    relay.broker.close()
    engine.dispose()
    return {"rows": rows, "sent": sent, "seconds": round(wall, 3), "rate": round(sent / max(wall, 1e-9), 1),
            "cpu_ms_per_message": round(1000 * cpu / max(sent, 1), 4)}


def _inserter(database_url: str, rate: float, seconds: float, per_commit: int) -> int:
    """Commit outbox rows open loop at ``rate`` rows/s (each commit with the unit of work's NOTIFY)."""
    from sqlalchemy import create_engine

    from common.messaging.wakeup import CHANNEL

    engine = create_engine(database_url)
    table, written = _outbox().__table__, 0
    interval, started = per_commit / rate, time.monotonic()
    with engine.connect() as connection:
        while (due := started + (written // per_commit) * interval) < started + seconds:
            time.sleep(max(0.0, due - time.monotonic()))
            with connection.begin():
                connection.execute(insert(table), _rows(per_commit))
                connection.execute(text(f"NOTIFY {CHANNEL}"))
            written += per_commit
    engine.dispose()
    return written


def lag(settings: Settings, rate: float, seconds: float, per_commit: int) -> dict[str, Any]:
    """Rows committed at ``rate`` by another process; the relay woken by LISTEN; lag percentiles."""
    from common.messaging.wakeup import PostgresWakeup

    relay, engine = _relay(settings, poll_interval=settings.relay_poll_interval,
                           wakeup=PostgresWakeup(settings.database_url).wait)
    model = _outbox()
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE outbox"))
    relay.run_once()
    stop = threading.Event()
    thread = threading.Thread(target=relay.run_forever, args=(stop,), daemon=True)
    cpu = time.process_time()
    thread.start()
    with SPAWN.Pool(1) as pool:
        written = pool.apply(_inserter, (settings.database_url, rate, seconds, per_commit))
    deadline = time.monotonic() + 60
    with engine.connect() as connection:
        unsent = select(func.count()).select_from(model).where(model.sent_at.is_(None))
        while connection.scalar(unsent) and time.monotonic() < deadline:
            connection.rollback()
            time.sleep(0.05)
    stop.set()
    thread.join(10)
    cpu = time.process_time() - cpu
    with engine.connect() as connection:
        lags = connection.execute(text(
            "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at)),"
            " max(extract(epoch FROM sent_at - created_at)), count(sent_at) FROM outbox")).one()
    relay.broker.close()
    engine.dispose()
    return {"offered_rate": rate, "seconds": seconds, "rows_per_commit": per_commit, "written": written,
            "sent": lags[2], "lag_p50_ms": round(1000 * float(lags[0][0] or 0), 1),
            "lag_p99_ms": round(1000 * float(lags[0][1] or 0), 1), "lag_max_ms": round(1000 * float(lags[1] or 0), 1),
            "cpu_ms_per_message": round(1000 * cpu / max(written, 1), 4)}


def run(*, rows: int = 20_000, rate: float = 1000.0, seconds: float = 10.0, per_commit: int = 2,
        batch: int = 500, prefix: str = "loanflow_bench_relay", vhost: str = "loanflow_bench_relay") -> dict[str, Any]:
    """Both measurements on a fresh database and vhost (dropped afterwards); the figures as a dict."""
    from tests.support.databases import reset_database

    database_url = reset_database(SERVICE, prefix=prefix)
    servers.current.rabbitmq.reset_vhost(vhost)
    settings = Settings(service=SERVICE, database_url=database_url, relay_batch_size=batch,
                        broker_url=servers.current.rabbitmq.amqp_url(vhost))
    try:
        return {"batch": batch, "drain": drain(settings, rows), "lag": lag(settings, rate, seconds, per_commit)}
    finally:
        servers.current.rabbitmq.delete_vhost(vhost)
        _drop_database(f"{prefix}_{SERVICE}")


def _drop_database(name: str) -> None:
    from sqlalchemy import create_engine

    from tests.support.databases import admin_url

    engine = create_engine(f"{admin_url()}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def table(result: dict[str, Any]) -> str:
    """The figures as a plain-text table."""
    d, g = result["drain"], result["lag"]
    lines = [("figure", "value", "unit"),
             ("relay drain rate (confirmed)", f"{d['rate']:.0f}", f"msg/s ({d['sent']} rows, batch {result['batch']})"),
             ("relay CPU, drain", f"{d['cpu_ms_per_message']:.3f}", "ms CPU / message"),
             ("offered insert rate", f"{g['offered_rate']:.0f}",
              f"rows/s for {g['seconds']} s, {g['rows_per_commit']}/commit"),
             ("outbox lag p50", f"{g['lag_p50_ms']:.1f}", "ms"),
             ("outbox lag p99", f"{g['lag_p99_ms']:.1f}", "ms"),
             ("outbox lag max", f"{g['lag_max_ms']:.1f}", "ms"),
             ("relay CPU, at the offered rate", f"{g['cpu_ms_per_message']:.3f}", "ms CPU / message"),
             ("rows sent / written", f"{g['sent']}/{g['written']}", "")]
    width = [max(len(line[i]) for line in lines) for i in range(3)]
    return "\n".join("  ".join(cell.ljust(width[i]) for i, cell in enumerate(line)) for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny numbers (a few seconds)")
    parser.add_argument("--rows", type=int, help="rows drained (default 20000)")
    parser.add_argument("--rate", type=float, help="offered insert rate, rows/s (default 1000)")
    parser.add_argument("--seconds", type=float, help="duration of the lag run (default 10)")
    parser.add_argument("--rows-per-commit", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500, help="relay batch size (LOANFLOW_RELAY_BATCH)")
    parser.add_argument("--prefix", default="loanflow_bench_relay", help="database prefix (<prefix>_loan)")
    parser.add_argument("--vhost", default="loanflow_bench_relay", help="RabbitMQ virtual host")
    args = parser.parse_args(argv)
    result = run(rows=args.rows or (300 if args.smoke else 20_000), rate=args.rate or (100.0 if args.smoke else 1000.0),
                 seconds=args.seconds or (1.0 if args.smoke else 10.0), per_commit=args.rows_per_commit,
                 batch=args.batch, prefix=args.prefix, vhost=args.vhost)
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

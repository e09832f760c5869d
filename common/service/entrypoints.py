"""The processes a service runs as: web app, Dramatiq worker, outbox relay, migrations.

Each takes the service's name, loads its :class:`ServiceDefinition` from ``<name>_app.service``
and wires it with :class:`Settings` from the environment. The embedded runner and the tests call
the same functions, with settings of their own.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from dramatiq import Broker
from flask import Flask

from common.database.db import is_sqlite
from common.database.migrations import upgrade
from common.database.retention import purge_expired
from common.kernel.logs import configure_logging
from common.kernel.settings import Settings
from common.messaging.broker import build_broker
from common.messaging.consumers import register_actors
from common.messaging.deadletters import drain_dead_letter_queue
from common.messaging.relay import OutboxRelay
from common.service.runtime import Runtime, ServiceDefinition

log = logging.getLogger(__name__)

_TITLES = {
    "loan": ("loanflow loan service", "Applications, their state machine and history; the evaluation saga."),
    "credit": ("loanflow credit service", "Credit inquiries at the bureau, scores and debt-to-income."),
    "property": ("loanflow property service", "Property valuations and loan-to-value."),
    "decision": ("loanflow decision service", "The lending policy and the decisions it made, explained."),
    "notify": ("loanflow notify service", "Notifications, documents and live channels."),
}


def load_definition(name: str) -> ServiceDefinition:
    """The definition of service ``name`` (imports ``<name>_app.service``)."""
    return importlib.import_module(f"{name}_app.service").definition()


def web_app(name: str, settings: Settings | None = None, rt: Runtime | None = None) -> Flask:
    """The WSGI app of service ``name``."""
    from common.web.http import create_service_app

    settings = settings or Settings.from_env(name)
    configure_logging(name, settings.log_level)
    if not settings.secret_key:
        raise RuntimeError("LOANFLOW_SECRET_KEY is not set: applicant tokens cannot be issued or checked")
    rt = rt or Runtime(load_definition(name), settings)
    title, description = _TITLES[name]
    return create_service_app(rt, title=title, description=description)


def worker_broker(name: str, settings: Settings | None = None) -> Broker:
    """The broker of a ``dramatiq <name>_app.worker`` process, with this service's actors."""
    settings = settings or Settings.from_env(name)
    configure_logging(name, settings.log_level)
    broker = build_broker(settings)
    if settings.dramatiq_exporter:
        # Dramatiq's own exporter (messages by actor and outcome, durations, in progress), on the
        # port the Procfile / compose gives each service's workers.
        from dramatiq.middleware.prometheus import DB_PATH, Prometheus

        from common.kernel.metrics import forget_dead_processes

        forget_dead_processes(DB_PATH)  # live gauges of workers killed before this start
        broker.add_middleware(Prometheus())
    register_actors(Runtime(load_definition(name), settings), broker)
    return broker


def migrate(name: str, settings: Settings | None = None) -> None:
    """Upgrade service ``name``'s database to the latest revision."""
    settings = settings or Settings.from_env(name)
    upgrade(load_definition(name), settings.database_url)


#: Maintenance every service runs in its relay process: (interval in seconds, job).
COMMON_PERIODIC: list[tuple[float, Any]] = [(5.0, drain_dead_letter_queue), (300.0, purge_expired)]


def start_background(rt: Runtime, broker: Broker, stop: threading.Event) -> list[threading.Thread]:
    """Start the outbox relay and the periodic jobs of one service as daemon threads."""
    rt.broker = broker
    relay = OutboxRelay(
        rt.session_factory,
        rt.definition.outbox_model,
        broker,
        batch_size=rt.settings.relay_batch_size,
        poll_interval=rt.settings.relay_poll_interval,
        wakeup=_wakeup_for(rt),
        exit_after_publish=rt.settings.fault_exit_after_publish,
    )
    threads = [threading.Thread(target=relay.run_forever, args=(stop,), name=f"{rt.name}-relay", daemon=True)]
    jobs = [*rt.bindings.periodic, *((interval, partial(job, rt)) for interval, job in COMMON_PERIODIC)]
    for interval, job in jobs:
        threads.append(
            threading.Thread(
                target=_every, args=(interval, job, stop), name=f"{rt.name}-{_job_name(job)}", daemon=True
            )
        )
    for thread in threads:
        thread.start()
    return threads


def _wakeup_for(rt: Runtime) -> Any:
    """In one process, the commit's in-memory flag; across processes, PostgreSQL's LISTEN/NOTIFY."""
    if rt.settings.embedded or is_sqlite(rt.settings.database_url):
        return rt.wakeup.wait
    from common.messaging.wakeup import PostgresWakeup

    return PostgresWakeup(rt.settings.database_url).wait


def _job_name(job: Callable[[], object]) -> str:
    return getattr(job, "__name__", None) or getattr(getattr(job, "func", None), "__name__", "job")


def _every(interval: float, job: Callable[[], object], stop: threading.Event) -> None:
    while not stop.is_set():
        started = time.monotonic()
        try:
            job()
        except Exception:
            log.exception("periodic job failed", extra={"job": _job_name(job)})
        stop.wait(max(0.0, interval - (time.monotonic() - started)))


def run_relay(name: str, settings: Settings | None = None) -> None:
    """The relay process of service ``name``: outbox relay and periodic jobs until SIGTERM."""
    import signal

    settings = settings or Settings.from_env(name)
    configure_logging(name, settings.log_level)
    broker = build_broker(settings)
    rt = Runtime(load_definition(name), settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threads = start_background(rt, broker, stop)
    if settings.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    log.info("relay started", extra={"service": name})
    while not stop.is_set():
        stop.wait(1.0)
    for thread in threads:
        thread.join(timeout=10)
    broker.close()

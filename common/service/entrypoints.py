"""The processes a service runs as: web app, Dramatiq worker (hosting the outbox relay), migrations.

Each takes the service's name, loads its :class:`ServiceDefinition` from ``<name>_app.service``
and wires it with :class:`Settings` from the environment. The embedded runner and the tests call
the same functions, with settings of their own.
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import TYPE_CHECKING

from dramatiq import Broker

from common.kernel.logs import configure_logging
from common.kernel.settings import Settings
from common.messaging.broker import build_broker
from common.messaging.consumers import register_actors
from common.service.background import RelayHost, start_background
from common.service.runtime import Runtime, ServiceDefinition

if TYPE_CHECKING:  # workers import this module too; Flask is for web processes only
    from flask import Flask

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
    rt = Runtime(load_definition(name), settings)
    register_actors(rt, broker)
    # The outbox relay and the periodic jobs run in this process, once the worker is up.
    broker.add_middleware(RelayHost(rt))
    return broker


def migrate(name: str, settings: Settings | None = None) -> None:
    """Upgrade service ``name``'s database to the latest revision."""
    from common.database.migrations import upgrade  # Alembic (and Mako) only where migrations run

    settings = settings or Settings.from_env(name)
    upgrade(load_definition(name), settings.database_url)


def run_relay(name: str, settings: Settings | None = None) -> None:
    """A separate relay process for service ``name`` (optional: every worker hosts its service's
    relay, ``background.RelayHost``): outbox relay and periodic jobs until SIGTERM."""
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

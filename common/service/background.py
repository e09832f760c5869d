"""What runs beside a service's actors: the outbox relay and the periodic jobs.

They run as daemon threads of the service's Dramatiq worker (:class:`RelayHost`, a middleware
that ``worker_broker`` adds): no process of their own, so no ~85 MiB interpreter per service
and no extra connections. The worker's own commits wake the relay in memory (the unit of work's
``on_commit`` sets ``Runtime.wakeup``), and a listener thread turns PostgreSQL's ``NOTIFY`` of the
web processes' commits into the same wake-up. ``python -m loanflow.cli relay <svc>`` still runs
them as a separate process (``entrypoints.run_relay``), for operators who want one; several
copies share the rows (``SKIP LOCKED``). The embedded mode starts them with
:func:`start_background` in its one process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import dramatiq
from dramatiq import Broker

from common.database.db import is_sqlite
from common.database.retention import anonymise_ended, purge_expired
from common.messaging.deadletters import drain_dead_letter_queue
from common.messaging.relay import OutboxRelay
from common.service.runtime import Runtime

log = logging.getLogger(__name__)

#: Maintenance every service runs beside its relay: (interval in seconds, job).
COMMON_PERIODIC: list[tuple[float, Any]] = [
    (5.0, drain_dead_letter_queue), (300.0, purge_expired), (300.0, anonymise_ended),
]


def start_background(rt: Runtime, broker: Broker, stop: threading.Event) -> list[threading.Thread]:
    """Start the outbox relay and the periodic jobs of one service as daemon threads."""
    rt.broker = broker
    threads = _wakeups(rt, stop)
    relay = OutboxRelay(
        rt.session_factory,
        rt.definition.outbox_model,
        broker,
        batch_size=rt.settings.relay_batch_size,
        poll_interval=rt.settings.relay_poll_interval,
        wakeup=rt.wakeup.wait,
        exit_after_publish=rt.settings.fault_exit_after_publish,
    )
    threads.append(threading.Thread(target=relay.run_forever, args=(stop,), name=f"{rt.name}-relay", daemon=True))
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


def _wakeups(rt: Runtime, stop: threading.Event) -> list[threading.Thread]:
    """In one process the commit's in-memory flag is enough; on PostgreSQL a thread also raises it
    on every ``NOTIFY`` (commits of other processes: the web app, other workers)."""
    if rt.settings.embedded or is_sqlite(rt.settings.database_url):
        return []
    from common.messaging.wakeup import PostgresWakeup

    listener = PostgresWakeup(rt.settings.database_url)

    def listen() -> None:
        while not stop.is_set():
            if listener.wait(1.0):
                rt.wakeup.set()
        listener.close()

    return [threading.Thread(target=listen, name=f"{rt.name}-listen", daemon=True)]


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


class RelayHost(dramatiq.Middleware):
    """Runs a service's relay and periodic jobs inside its Dramatiq worker process.

    Started once the worker booted (its consumers are up), stopped when it shuts down (the relay
    finishes its batch: a row is marked only once confirmed, so an interrupted batch is
    published again, never lost). A worker that consumes only other queues than the service's
    own (``notify_documents_worker``: ``--queues notify.documents``) hosts nothing, so that each
    service runs one relay and one set of periodic jobs per worker deployment.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def after_worker_boot(self, broker: Broker, worker: dramatiq.Worker) -> None:
        # Dramatiq keeps ``--queues`` as ``consumer_whitelist`` (None: every queue).
        queues = getattr(worker, "consumer_whitelist", None)
        if queues and self.rt.name not in queues:
            log.info("relay not hosted here: this worker does not consume the service's queue")
            return
        self.threads = start_background(self.rt, broker, self.stop)
        log.info("relay started in the worker", extra={"service": self.rt.name})

    def before_worker_shutdown(self, broker: Broker, worker: dramatiq.Worker) -> None:
        self.stop.set()
        self.rt.wakeup.set()
        for thread in self.threads:
            thread.join(timeout=10)

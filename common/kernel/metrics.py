"""Prometheus metrics shared by every service: HTTP traffic, and the exposition endpoint.

With several gunicorn workers each worker is its own process; prometheus-client's multiprocess
mode (``PROMETHEUS_MULTIPROC_DIR`` set before start) merges their values when scraped, so a
scrape of any worker reports the whole service. prometheus-client reads that variable itself as
the metrics below are created, at import: :data:`MULTIPROC_DIR` is read at the same moment
(through ``common.kernel.settings``), not from a ``Settings`` object built later.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prom_multiprocess
from prometheus_client.metrics_core import Metric

if TYPE_CHECKING:  # Flask is imported where a web app uses it: workers import this module too
    from flask import Flask, Response

from common.kernel.settings import prometheus_multiproc_dir

log = logging.getLogger(__name__)

#: Where prometheus-client keeps this process's metric files; empty: metrics stay in memory.
MULTIPROC_DIR = prometheus_multiproc_dir()
if MULTIPROC_DIR:  # metric files are opened as metrics are created
    os.makedirs(MULTIPROC_DIR, exist_ok=True)

HTTP_REQUESTS = Counter(
    "loanflow_http_requests_total",
    "HTTP requests answered, by service, endpoint, method and status.",
    ["service", "endpoint", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "loanflow_http_request_duration_seconds",
    "HTTP request latency, by service and endpoint.",
    ["service", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


OUTBOX_PUBLISHED = Counter("loanflow_outbox_published_total", "Outbox rows published to the broker.",
                           ["message_type"])
OUTBOX_PUBLISH_FAILURES = Counter("loanflow_outbox_publish_failures_total",
                                  "Publish attempts that failed (broker unreachable), by destination queue.",
                                  ["queue"])
OUTBOX_PARKED = Counter("loanflow_outbox_parked_total",
                        "Outbox rows the relay gave up on (refused by the broker or not a valid message).",
                        ["queue"])
OUTBOX_PUBLISH_SECONDS = Histogram(
    "loanflow_outbox_publish_seconds", "Time from an event's commit to its publication (outbox lag).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
DUPLICATES_ABSORBED = Counter(
    "loanflow_duplicates_absorbed_total",
    "Messages delivered again whose effect was already applied, skipped by deduplication, by actor "
    "(at-least-once delivery at work: a relay crash, a redelivery after a lost ack, a replay).",
    ["actor"],
)


#: The methods counted under their own name (RFC 9110's, less ``CONNECT`` and ``TRACE``, which no
#: route serves). Any other is counted as :data:`OTHER_METHOD`.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
#: The endpoint label of a request no route matched (any path, or a method a route refuses).
UNMATCHED = "<unmatched>"


def method_label(method: str) -> str:
    """The ``method`` label of a request: one of :data:`METHODS`, else ``other``.

    Why: a client chooses its method freely (``FOO``, ``head``, a random token per request), and
    every new label value is a new time series kept by this process and by Prometheus: labels
    taken from a request must come from a fixed set, or a client can exhaust their memory.
    """
    return method if method in METHODS else OTHER_METHOD


def install_http_metrics(app: Flask, service: str) -> None:
    """Count and time every request by its URL rule (not its raw path: ids would explode labels,
    and so would a client's random paths, all counted as :data:`UNMATCHED`) and its
    :func:`method_label`."""
    from flask import g, request

    @app.before_request
    def _start_timer() -> None:
        g.loanflow_started = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        started = g.pop("loanflow_started", None)
        endpoint = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        HTTP_REQUESTS.labels(service, endpoint, method_label(request.method), str(response.status_code)).inc()
        if started is not None:
            HTTP_LATENCY.labels(service, endpoint).observe(time.perf_counter() - started)
        return response


class StateCollector:
    """Gauges read from the service's database at scrape time (``collect`` is called by the
    registry): they describe shared state, so any process, worker or instance reports the same
    truth, with nothing to merge across processes."""

    def __init__(self, source: Callable[[], Iterable[Metric]]) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        try:
            yield from self.source()
        except Exception:  # a scrape must answer even when the database does not
            log.warning("state metrics unavailable", exc_info=True)
            return


def metrics_response(state: Callable[[], Iterable[Metric]] | None = None) -> Any:
    """The text exposition of this process (all processes in multiprocess mode), plus ``state``."""
    from flask import Response
    registry = CollectorRegistry()
    if MULTIPROC_DIR:
        prom_multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    payload = generate_latest(registry)
    if state is not None:
        extra = CollectorRegistry()
        extra.register(StateCollector(state))
        payload += generate_latest(extra)
    return Response(payload, mimetype=CONTENT_TYPE_LATEST)


_METRIC_FILE_PID = re.compile(r"_(\d+)\.db$")


def forget_dead_processes(directory: str | os.PathLike[str]) -> list[int]:
    """Retire the live gauges of processes that died without saying so (``kill -9``, OOM).

    prometheus-client's multiprocess mode keeps one file per process and metric kind. A process
    that exits cleanly marks itself dead; one that is killed leaves its ``gauge_live*`` files, and
    its "in progress" and "workers" gauges would be summed forever — Dramatiq's exporter never
    clears its directory. Called when a worker starts: counters and histograms of dead processes
    stay (totals survive restarts, as Prometheus expects); only the live gauges go.

    Returns the pids retired.
    """
    path = os.fspath(directory)
    if not os.path.isdir(path):
        return []
    pids = {int(m.group(1)) for name in os.listdir(path) if (m := _METRIC_FILE_PID.search(name))}
    dead = sorted(pid for pid in pids if not _alive(pid))
    for pid in dead:
        prom_multiprocess.mark_process_dead(pid, path)
    return dead


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True

"""Prometheus metrics shared by every service: HTTP traffic, and the exposition endpoint.

With several gunicorn workers each worker is its own process; prometheus-client's multiprocess
mode (``PROMETHEUS_MULTIPROC_DIR`` set before start) merges their values when scraped, so a
scrape of any worker reports the whole service.
"""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prom_multiprocess

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


def install_http_metrics(app: Flask, service: str) -> None:
    """Count and time every request by its URL rule (not its raw path: ids would explode labels)."""

    @app.before_request
    def _start_timer() -> None:
        g.loanflow_started = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        started = g.pop("loanflow_started", None)
        endpoint = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        HTTP_REQUESTS.labels(service, endpoint, request.method, str(response.status_code)).inc()
        if started is not None:
            HTTP_LATENCY.labels(service, endpoint).observe(time.perf_counter() - started)
        return response


def metrics_response() -> Any:
    """The text exposition of this process, or of all processes in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(registry)
        payload = generate_latest(registry)
    else:
        payload = generate_latest()
    return Response(payload, mimetype=CONTENT_TYPE_LATEST)

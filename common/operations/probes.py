"""What Kubernetes and Prometheus ask every service: ``/<svc>/health``, ``/<svc>/ready``, ``/<svc>/metrics``.

Plain Flask routes (no OpenAPI operation: probes are not part of a service's API), mounted by the
app factory under each service's prefix with :func:`install_probes`; the views are module-level
and read the service from the request's context.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import partial
from typing import Any

from flask import Flask, current_app, jsonify
from prometheus_client.metrics_core import Metric
from sqlalchemy import text

from common.kernel.metrics import metrics_response
from common.messaging.broker import BrokerProbe
from common.operations.state_metrics import shared_state
from common.service.runtime import Runtime
from common.web.context import runtime

log = logging.getLogger(__name__)

_PROBE_KEY = "loanflow.broker_probe"


def install_probes(app: Flask, rt: Runtime) -> None:
    """Route ``/<svc>/health``, ``/<svc>/ready`` and ``/<svc>/metrics`` of ``rt``'s service."""
    app.extensions[_PROBE_KEY] = BrokerProbe(rt.settings.broker_url)
    for name, view in (("health", health), ("ready", ready), ("metrics", metrics)):
        app.add_url_rule(f"/{rt.name}/{name}", name, view, methods=["GET"])


def health() -> Any:
    """Liveness: the process answers (Kubernetes restarts it otherwise)."""
    return jsonify(status="ok", service=runtime().name)


def ready() -> Any:
    """Readiness: this service's database and the broker are reachable."""
    rt = runtime()
    checks = {"database": _database_ok(rt), "broker": current_app.extensions[_PROBE_KEY].ok()}
    status = 200 if all(checks.values()) else 503
    return jsonify(status="ready" if status == 200 else "unavailable", service=rt.name, checks=checks), status


def metrics() -> Any:
    """Prometheus metrics of this process (or of all workers in multiprocess mode), plus the
    service's state read from its database (outbox lag, dead letters, business figures)."""
    return metrics_response(partial(_state, runtime()))


def _state(rt: Runtime) -> Iterator[Metric]:
    yield from shared_state(rt)
    if rt.definition.state_metrics is not None:
        yield from rt.definition.state_metrics(rt)


def _database_ok(rt: Runtime) -> bool:
    try:
        with rt.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        log.warning("readiness: database unreachable")
        return False
    return True

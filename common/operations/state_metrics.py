"""Metrics computed from a service's database when Prometheus scrapes it.

Outbox lag and dead letters are facts about the database, not about one process: reading them
at scrape time gives every process the same true value (no multiprocess merging, no drift after
a restart). Services add their own (loan_app: applications by status, decisions and their time).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select

from common.kernel.clock import utcnow
from common.messaging.deadletters import PARKED
from common.service.runtime import Runtime


def shared_state(rt: Runtime) -> Iterable[Metric]:
    """Outbox pending rows and the age of the oldest, parked outbox rows, and parked dead letters."""
    tables = rt.definition.tables
    with rt.session_factory() as session:
        pending, oldest = session.execute(
            select(func.count(), func.min(tables.outbox.created_at))
            .where(tables.outbox.sent_at.is_(None), tables.outbox.parked_at.is_(None))
        ).one()
        # Parked rows wait for an operator, not for the relay: counted apart, they neither
        # raise the lag for ever nor hide behind it.
        poison = session.scalar(select(func.count()).select_from(tables.outbox)
                                .where(tables.outbox.parked_at.is_not(None), tables.outbox.sent_at.is_(None)))
        parked = session.scalar(select(func.count()).select_from(tables.dead_letters)
                                .where(tables.dead_letters.status == PARKED))
    if oldest is not None and oldest.tzinfo is None:
        from datetime import UTC

        oldest = oldest.replace(tzinfo=UTC)
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    yield _gauge("loanflow_outbox_pending_rows", "Outbox rows not yet published.", rt.name, pending)
    yield _gauge("loanflow_outbox_oldest_pending_seconds", "Age of the oldest unpublished outbox row.",
                 rt.name, age)
    yield _gauge("loanflow_outbox_parked_rows", "Outbox rows the relay gave up on, waiting for an operator.",
                 rt.name, poison or 0)
    yield _gauge("loanflow_dead_letters_parked", "Dead letters waiting for an operator.", rt.name, parked or 0)


def _gauge(name: str, documentation: str, service: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["service"])
    family.add_metric([service], float(value))
    return family

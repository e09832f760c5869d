"""Deliver messages to a service's handlers as its Dramatiq actor would (same code path)."""

from __future__ import annotations

from typing import Any

import dramatiq
from sqlalchemy import select

from common.kernel.clock import isoformat, utcnow
from common.messaging.consumers import apply_once
from common.messaging.contracts import spec_for
from common.messaging.envelope import Envelope
from common.messaging.outbox import new_id
from common.service.runtime import Runtime


def deliver(rt: Runtime, name: str, application_id: str, data: dict[str, Any], message_id: str | None = None) -> bool:
    """Apply message ``name`` to ``rt``'s handler; returns False when it was a duplicate."""
    envelope = Envelope(
        message_id=message_id or new_id(), event_id=new_id(), type=name, application_id=application_id,
        correlation_id=application_id, occurred_at=isoformat(utcnow()), data=data,
    )
    handler = rt.bindings.handlers[name]
    return apply_once(rt, handler, spec_for(name).actor_name(rt.name), envelope.message_id, envelope.to_wire())


def outbox(rt: Runtime, application_id: str | None = None) -> list[Any]:
    """Outbox rows of ``rt``'s service, oldest first."""
    model = rt.definition.outbox_model
    query = select(model).order_by(model.created_at)
    if application_id:
        query = query.where(model.application_id == application_id)
    with rt.session_factory() as session:
        return list(session.scalars(query))


def sent_types(rt: Runtime, application_id: str) -> list[str]:
    """The message types ``rt`` staged for ``application_id``, one per event (not per consumer)."""
    seen: dict[str, str] = {}
    for row in outbox(rt, application_id):
        seen.setdefault(row.event_id, row.message_type)
    return list(seen.values())


def run_until_idle(broker: dramatiq.Broker, queue: str) -> None:
    """Run a Dramatiq worker on ``broker`` (the stub) until ``queue`` and its retries are done."""
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        broker.join(queue, fail_fast=False)  # type: ignore[attr-defined]
        worker.join()
    finally:
        worker.stop()

"""What loan_app's views read. Each query takes the service's runtime and opens one session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from common.messaging.contracts import spec_for
from common.service.runtime import Runtime
from common.web.applicant_access import AccessFacts
from loan_app.adapters import repository
from loan_app.adapters.orm import applications as _applications
from loan_app.domain.model import Application

_FACTS = select(_applications.c.access_generation, _applications.c.access_valid_from, _applications.c.ended_at)


def application(rt: Runtime, application_id: str) -> Application | None:
    """One application, with its history, or ``None``."""
    with rt.session_factory() as session:
        return repository.get(session, application_id, with_history=True)


def applications(rt: Runtime, status: str | None, offset: int, limit: int) -> tuple[Sequence[Application], int]:
    """A page of applications, newest first, filtered by ``status``; and the total."""
    with rt.session_factory() as session:
        return repository.page(session, status, offset, limit)


def erasure(rt: Runtime, application_id: str) -> dict[str, Any] | None:
    """Where the erasure of an application's personal data stands, or ``None`` if none was asked:
    when and why, and when each service erased its copy (``None``: not yet)."""
    with rt.session_factory() as session:
        found = repository.erasure(session, application_id)
    if found is None:
        return None
    tombstone, confirmed = found
    others = spec_for("PersonalDataErasureRequested").consumers
    services = [{"service": rt.name, "erased_at": tombstone.erased_at},
                *({"service": service, "erased_at": confirmed.get(service)} for service in others)]
    return {"application_id": application_id, "reason": tombstone.reason, "requested_at": tombstone.requested_at,
            "requested_by": tombstone.requested_by, "services": services,
            "complete": all(entry["erased_at"] is not None for entry in services)}


def access_facts(rt: Runtime, application_id: str) -> AccessFacts | None:
    """What the application's row says of its applicant tokens (``ServiceDefinition.access_facts``):
    three columns, read by primary key, before every applicant request."""
    with rt.engine.connect() as connection:
        row = connection.execute(_FACTS.where(_applications.c.id == application_id)).first()
    return AccessFacts(generation=row[0], valid_from=row[1], ended_at=row[2]) if row is not None else None

"""What loan_app's views read. Each query takes the service's runtime and opens one session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from common.messaging.contracts import spec_for
from common.service.runtime import Runtime
from loan_app.adapters import repository
from loan_app.domain.model import Application


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

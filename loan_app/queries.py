"""What loan_app's views read. Each query takes the service's runtime and opens one session."""

from __future__ import annotations

from collections.abc import Sequence

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

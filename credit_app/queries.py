"""What credit_app's views read. Each query takes the service's runtime and opens one session."""

from __future__ import annotations

from common.service.runtime import Runtime
from credit_app.adapters.orm import CreditInquiry


def inquiry(rt: Runtime, application_id: str) -> CreditInquiry | None:
    """The credit inquiry made for an application, or ``None``."""
    with rt.session_factory() as session:
        return session.get(CreditInquiry, application_id)

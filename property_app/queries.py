"""What property_app's views read. Each query takes the service's runtime and opens one session."""

from __future__ import annotations

from common.service.runtime import Runtime
from property_app.adapters.orm import PropertyValuation


def valuation(rt: Runtime, application_id: str) -> PropertyValuation | None:
    """The valuation of an application's property, or ``None``."""
    with rt.session_factory() as session:
        return session.get(PropertyValuation, application_id)

"""loan_app as a service: its schema, API, message handlers and maintenance jobs."""

from __future__ import annotations

from pathlib import Path

from common.service.runtime import ServiceDefinition


def definition() -> ServiceDefinition:
    """loan_app owns applications, their state machine and history, and runs the saga."""
    from loan_app.adapters.orm import TABLES, Base
    from loan_app.handlers import expire_overdue, message_handlers
    from loan_app.metrics import business_state
    from loan_app.resources.applications.routes import blp

    return ServiceDefinition(
        name="loan",
        base=Base,
        tables=TABLES,
        blueprints=[blp],
        handlers=message_handlers,
        package_dir=Path(__file__).parent,
        periodic=[(1.0, expire_overdue)],
        state_metrics=business_state,
    )

"""loan_app as a service: its schema, API, unit of work and bootstrap (handlers and maintenance jobs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.service.runtime import ServiceDefinition


def _blueprints() -> list[Any]:
    """loan_app's API, imported when a web app is built (a worker never loads flask-smorest)."""
    from loan_app.resources.applications.routes import blp
    from loan_app.resources.auth.routes import blp as auth
    from loan_app.resources.reviews.routes import blp as reviews

    return [blp, auth, reviews]


def definition() -> ServiceDefinition:
    """loan_app owns applications, their state machine and history, and runs the saga."""
    from loan_app.adapters.orm import TABLES, Base
    from loan_app.adapters.repository import LoanUnitOfWork
    from loan_app.bootstrap import bootstrap
    from loan_app.metrics import business_state
    from loan_app.queries import access_facts

    return ServiceDefinition(
        name="loan",
        base=Base,
        tables=TABLES,
        blueprints=_blueprints,
        package_dir=Path(__file__).parent,
        bootstrap=bootstrap,
        unit_of_work=LoanUnitOfWork,
        state_metrics=business_state,
        access_facts=access_facts,
    )

"""decision_app as a service: its schema, API, unit of work, bootstrap and actor options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.kernel.settings import Settings
from common.messaging.broker import compensation_options, step_options
from common.service.runtime import ServiceDefinition


def _actor_options(settings: Settings) -> dict[str, dict[str, Any]]:
    return {"MakeDecision": step_options(settings), "PersonalDataErasureRequested": compensation_options(settings)}


def _blueprints() -> list[Any]:
    """decision_app's API, imported when a web app is built (a worker never loads flask-smorest)."""
    from decision_app.resources.decisions.routes import blp
    from decision_app.resources.policies.routes import blp as policies

    return [blp, policies]


def definition() -> ServiceDefinition:
    """decision_app owns decisions and the policy."""
    from decision_app.adapters.orm import TABLES, Base
    from decision_app.adapters.repository import DecisionUnitOfWork
    from decision_app.bootstrap import bootstrap

    return ServiceDefinition(
        name="decision",
        base=Base,
        tables=TABLES,
        blueprints=_blueprints,
        package_dir=Path(__file__).parent,
        bootstrap=bootstrap,
        unit_of_work=DecisionUnitOfWork,
        actor_options=_actor_options,
    )

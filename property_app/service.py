"""property_app as a service: its schema, API, unit of work, bootstrap and actor options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.kernel.settings import Settings
from common.messaging.broker import compensation_options, step_options
from common.service.runtime import ServiceDefinition


def _actor_options(settings: Settings) -> dict[str, dict[str, Any]]:
    return {"ValueProperty": step_options(settings), "PersonalDataErasureRequested": compensation_options(settings)}


def _blueprints() -> list[Any]:
    """property_app's API, imported when a web app is built (a worker never loads flask-smorest)."""
    from property_app.resources.valuations.routes import blp

    return [blp]


def definition() -> ServiceDefinition:
    """property_app owns valuations."""
    from property_app.adapters.orm import TABLES, Base
    from property_app.adapters.repository import PropertyUnitOfWork
    from property_app.bootstrap import bootstrap

    return ServiceDefinition(
        name="property",
        base=Base,
        tables=TABLES,
        blueprints=_blueprints,
        package_dir=Path(__file__).parent,
        bootstrap=bootstrap,
        unit_of_work=PropertyUnitOfWork,
        actor_options=_actor_options,
    )

"""property_app as a service: its schema, API and message handler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.kernel.settings import Settings
from common.messaging.broker import step_options
from common.service.runtime import ServiceDefinition


def _actor_options(settings: Settings) -> dict[str, dict[str, Any]]:
    return {"ValueProperty": step_options(settings)}


def definition() -> ServiceDefinition:
    """property_app owns valuations."""
    from property_app.adapters.orm import TABLES, Base
    from property_app.handlers import give_up_handlers, message_handlers
    from property_app.resources.valuations.routes import blp

    return ServiceDefinition(
        name="property",
        base=Base,
        tables=TABLES,
        blueprints=[blp],
        handlers=message_handlers,
        package_dir=Path(__file__).parent,
        actor_options=_actor_options,
        on_give_up=give_up_handlers,
    )

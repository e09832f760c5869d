"""notify_app as a service: its schema, API and message handlers."""

from __future__ import annotations

from pathlib import Path

from common.runtime import ServiceDefinition


def definition() -> ServiceDefinition:
    """notify_app owns notifications and the channels that deliver them."""
    from notify_app.adapters.orm import TABLES, Base
    from notify_app.handlers import message_handlers
    from notify_app.resources.notifications.routes import blp

    return ServiceDefinition(
        name="notify",
        base=Base,
        tables=TABLES,
        blueprints=[blp],
        handlers=message_handlers,
        package_dir=Path(__file__).parent,
    )

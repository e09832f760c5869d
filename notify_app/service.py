"""notify_app as a service: its schema, API, live channels, unit of work and bootstrap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.kernel.settings import Settings
from common.messaging.broker import compensation_options, step_options
from common.service.runtime import Runtime, ServiceDefinition


def _actor_options(settings: Settings) -> dict[str, dict[str, Any]]:
    # A status change that arrives before its predecessor waits for it (see handlers).
    from notify_app.adapters.mailer import MailerRejected
    from notify_app.handlers import ordering_retry_when

    return {
        "ApplicationStatusChanged": {"retry_when": ordering_retry_when(settings), "min_backoff": 100,
                                     "max_backoff": 2000},
        "GenerateDocuments": step_options(settings),
        "SendEmail": step_options(settings, throws=(MailerRejected,)),
        "PersonalDataErasureRequested": compensation_options(settings),
        "SendAccessToken": step_options(settings, throws=(MailerRejected,)),
    }


def _setup_app(app: Any, rt: Runtime) -> None:
    from common.web.lifecycle import on_shutdown
    from notify_app.live.hub import Caps, Hub
    from notify_app.live.websocket import install_websockets
    from notify_app.pages import install_pages

    settings = rt.settings
    hub = Hub(rt.session_factory, caps=Caps(per_process=settings.max_live_connections,
                                            per_token=settings.max_live_per_token,
                                            per_address=settings.max_live_per_address))
    app.extensions["notify.hub"] = hub
    on_shutdown(hub.close_all)  # streams end at SIGTERM, not at their next heartbeat
    install_websockets(app, rt, hub, frozenset(rt.settings.allowed_origins))
    install_pages(app)


def _blueprints() -> list[Any]:
    """notify_app's API, imported when a web app is built (a worker never loads flask-smorest)."""
    from notify_app.resources.documents.routes import blp as documents_blp
    from notify_app.resources.live.routes import blp as live_blp
    from notify_app.resources.notifications.routes import blp

    return [blp, live_blp, documents_blp]


def definition() -> ServiceDefinition:
    """notify_app owns notifications and the channels that deliver them."""
    from notify_app.adapters.orm import TABLES, Base
    from notify_app.adapters.repository import NotifyUnitOfWork
    from notify_app.bootstrap import bootstrap
    from notify_app.queries import access_facts

    return ServiceDefinition(
        name="notify",
        base=Base,
        tables=TABLES,
        blueprints=_blueprints,
        package_dir=Path(__file__).parent,
        bootstrap=bootstrap,
        unit_of_work=NotifyUnitOfWork,
        actor_options=_actor_options,
        setup_app=_setup_app,
        access_facts=access_facts,
    )

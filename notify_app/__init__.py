"""notify_app: the durable log of every status change, and the channels that deliver it.

``gunicorn 'notify_app:create_app()'`` serves it alone; ``dramatiq notify_app.worker`` records
notifications and publishes its outbox
(``python -m loanflow.cli relay notify`` runs a relay alone, for operators who want one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.kernel.settings import Settings

if TYPE_CHECKING:  # a worker imports this package too, and never needs Flask
    from flask import Flask


def create_app(settings: Settings | None = None) -> Flask:
    """The notify service's WSGI app (settings from the environment unless given)."""
    from common.service.entrypoints import web_app

    return web_app("notify", settings)

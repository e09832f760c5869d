"""notify_app: the durable log of every status change, and the channels that deliver it.

``gunicorn 'notify_app:create_app()'`` serves it alone; ``dramatiq notify_app.worker`` records
notifications; ``python -m loanflow.cli relay notify`` publishes its outbox.
"""

from __future__ import annotations

from flask import Flask

from common.kernel.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """The notify service's WSGI app (settings from the environment unless given)."""
    from common.service.entrypoints import web_app

    return web_app("notify", settings)

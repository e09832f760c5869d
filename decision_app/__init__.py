"""decision_app: the lending policy, and every decision with the inputs and rules behind it.

``gunicorn 'decision_app:create_app()'`` serves it alone; ``dramatiq decision_app.worker``
decides; ``python -m loanflow.cli relay decision`` publishes its outbox.
"""

from __future__ import annotations

from flask import Flask

from common.kernel.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """The decision service's WSGI app (settings from the environment unless given)."""
    from common.service.entrypoints import web_app

    return web_app("decision", settings)

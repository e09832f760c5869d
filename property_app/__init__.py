"""property_app: property valuations (reference price per m² × surface, adjusted) and loan-to-value.

``gunicorn 'property_app:create_app()'`` serves it alone; ``dramatiq property_app.worker`` runs
valuations; ``python -m loanflow.cli relay property`` publishes its outbox.
"""

from __future__ import annotations

from flask import Flask

from common.kernel.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """The property service's WSGI app (settings from the environment unless given)."""
    from common.service.entrypoints import web_app

    return web_app("property", settings)

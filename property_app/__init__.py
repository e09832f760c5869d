"""property_app: property valuations (reference price per m² × surface, adjusted) and loan-to-value.

``gunicorn 'property_app:create_app()'`` serves it alone; ``dramatiq property_app.worker`` runs
valuations and publishes its outbox
(``python -m loanflow.cli relay property`` runs a relay alone, for operators who want one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.kernel.settings import Settings

if TYPE_CHECKING:  # a worker imports this package too, and never needs Flask
    from flask import Flask


def create_app(settings: Settings | None = None) -> Flask:
    """The property service's WSGI app (settings from the environment unless given)."""
    from common.service.entrypoints import web_app

    return web_app("property", settings)

"""decision_app: the lending policy, and every decision with the inputs and rules behind it.

``gunicorn 'decision_app:create_app()'`` serves it alone; ``dramatiq decision_app.worker``
decides and publishes its outbox
(``python -m loanflow.cli relay decision`` runs a relay alone, for operators who want one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.kernel.settings import Settings

if TYPE_CHECKING:  # a worker imports this package too, and never needs Flask
    from flask import Flask


def create_app(settings: Settings | None = None) -> Flask:
    """The decision service's WSGI app (settings from the environment unless given)."""
    from common.service.entrypoints import web_app

    return web_app("decision", settings)

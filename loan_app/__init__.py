"""loan_app: applications, their state machine and history; the saga's orchestrator.

``gunicorn 'loan_app:create_app()'`` serves it alone; ``dramatiq loan_app.worker`` consumes its
messages and publishes its outbox
(``python -m loanflow.cli relay loan`` runs a relay alone, for operators who want one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.kernel.settings import Settings

if TYPE_CHECKING:  # a worker imports this package too, and never needs Flask
    from flask import Flask


def create_app(settings: Settings | None = None) -> Flask:
    """The loan service's WSGI app (settings from the environment unless given)."""
    from common.service.entrypoints import web_app

    return web_app("loan", settings)

"""loan_app: applications, their state machine and history; the saga's orchestrator.

``gunicorn 'loan_app:create_app()'`` serves it alone; ``dramatiq loan_app.worker`` consumes its
messages; ``python -m loanflow.cli relay loan`` publishes its outbox.
"""

from __future__ import annotations

from flask import Flask

from common.kernel.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """The loan service's WSGI app (settings from the environment unless given)."""
    from common.service.entrypoints import web_app

    return web_app("loan", settings)

"""credit_app: credit inquiries at the bureau, credit scores and debt-to-income.

``gunicorn 'credit_app:create_app()'`` serves it alone; ``dramatiq credit_app.worker`` runs the
checks; ``python -m loanflow.cli relay credit`` publishes its outbox.
"""

from __future__ import annotations

from flask import Flask

from common.kernel.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """The credit service's WSGI app (settings from the environment unless given)."""
    from common.service.entrypoints import web_app

    return web_app("credit", settings)

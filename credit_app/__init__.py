"""credit_app: credit inquiries at the bureau, credit scores and debt-to-income.

``gunicorn 'credit_app:create_app()'`` serves it alone; ``dramatiq credit_app.worker`` runs the
checks and publishes its outbox
(``python -m loanflow.cli relay credit`` runs a relay alone, for operators who want one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.kernel.settings import Settings

if TYPE_CHECKING:  # a worker imports this package too, and never needs Flask
    from flask import Flask


def create_app(settings: Settings | None = None) -> Flask:
    """The credit service's WSGI app (settings from the environment unless given)."""
    from common.service.entrypoints import web_app

    return web_app("credit", settings)

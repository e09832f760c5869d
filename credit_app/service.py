"""credit_app as a service: its schema, API, unit of work, bootstrap and actor options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.kernel.settings import Settings
from common.messaging.broker import compensation_options, step_options
from common.service.runtime import ServiceDefinition


def _actor_options(settings: Settings) -> dict[str, dict[str, Any]]:
    from credit_app.adapters.bureau import BureauRejected

    return {
        "CheckCredit": step_options(settings, throws=(BureauRejected,)),
        "CancelCreditInquiry": compensation_options(settings),
        "CancelBureauInquiry": compensation_options(settings),
        "PersonalDataErasureRequested": compensation_options(settings),
    }


def _blueprints() -> list[Any]:
    """credit_app's API, imported when a web app is built (a worker never loads flask-smorest)."""
    from credit_app.resources.inquiries.routes import blp

    return [blp]


def definition() -> ServiceDefinition:
    """credit_app owns credit inquiries: checks at the bureau, and their cancellation."""
    from credit_app.adapters.orm import TABLES, Base
    from credit_app.adapters.repository import CreditUnitOfWork
    from credit_app.bootstrap import bootstrap

    return ServiceDefinition(
        name="credit",
        base=Base,
        tables=TABLES,
        blueprints=_blueprints,
        package_dir=Path(__file__).parent,
        bootstrap=bootstrap,
        unit_of_work=CreditUnitOfWork,
        actor_options=_actor_options,
    )

"""property_app's message handler: value a property, or say why it cannot be valued.

A location without a reference price is a business outcome, not an error: it is recorded and
published as ``PropertyValuationFailed`` (``VALUATION_UNAVAILABLE``) at once, without retries,
so the saga can compensate and fail the application with a reason the applicant can read.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from common.messaging.envelope import Envelope
from common.messaging.uow import UnitOfWork
from common.service.runtime import Handler, Runtime, TwoPhase
from property_app.adapters.orm import PropertyValuation
from property_app.domain.valuation import Valuation, ValuationUnavailable, value_property


def valuation_payload(valuation: Valuation) -> dict[str, Any]:
    """The valuation as JSON-simple values (what PropertyValued carries)."""
    return {
        "estimated_value": str(valuation.estimated_value),
        "price_per_m2": str(valuation.price_per_m2),
        "loan_to_value": str(valuation.loan_to_value),
        "reference": valuation.reference,
        "adjustments": [
            {"name": a.name, "factor": str(a.factor), "explanation": a.explanation} for a in valuation.adjustments
        ],
    }


def message_handlers(runtime: Runtime) -> dict[str, Handler | TwoPhase]:
    """``{message name: handler}`` for everything property_app consumes."""
    delay = runtime.settings.valuation_delay_ms / 1000

    def prepare(envelope: Envelope) -> Valuation | ValuationUnavailable:
        if delay:
            time.sleep(delay)  # the appraiser's work, simulated for demos (VALUATION_DELAY_MS)
        prop = envelope.data["property"]
        try:
            return value_property(
                prop["postcode"], prop["city"], prop["kind"], Decimal(prop["surface_m2"]),
                Decimal(envelope.data["loan_amount"]),
            )
        except ValuationUnavailable as unavailable:
            return unavailable

    def apply(envelope: Envelope, uow: UnitOfWork, outcome: Valuation | ValuationUnavailable) -> None:
        if uow.session.get(PropertyValuation, envelope.application_id, with_for_update=True) is not None:
            return
        prop = envelope.data["property"]
        row = PropertyValuation(
            application_id=envelope.application_id,
            correlation_id=envelope.correlation_id,
            postcode=prop["postcode"],
            city=prop["city"],
            kind=prop["kind"],
            surface_m2=Decimal(prop["surface_m2"]),
        )
        uow.session.add(row)
        ids = {"application_id": envelope.application_id, "correlation_id": envelope.correlation_id}
        if isinstance(outcome, ValuationUnavailable):
            row.status = "UNAVAILABLE"
            row.failure_reason = str(outcome)
            uow.publish("PropertyValuationFailed", {
                "code": outcome.code, "message": str(outcome), "round": envelope.data["round"],
            }, **ids)
            return
        row.status = "DONE"
        row.estimated_value = outcome.estimated_value
        row.price_per_m2 = outcome.price_per_m2
        row.loan_to_value = outcome.loan_to_value
        row.reference = outcome.reference
        row.adjustments = valuation_payload(outcome)["adjustments"]
        uow.publish("PropertyValued", {"valuation": valuation_payload(outcome), "round": envelope.data["round"]},
                    **ids)

    return {"ValueProperty": TwoPhase(prepare, apply)}


def give_up_handlers(runtime: Runtime) -> dict[str, Handler]:
    """Retries spent on a valuation (a bug or the database): fail the step, do not hang."""

    def valuation_failed(envelope: Envelope, uow: UnitOfWork) -> None:
        uow.publish("PropertyValuationFailed", {
            "code": "VALUATION_FAILED",
            "message": "The property could not be valued because of a technical failure.",
            "round": envelope.data["round"],
        }, application_id=envelope.application_id, correlation_id=envelope.correlation_id)

    return {"ValueProperty": valuation_failed}

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
from common.messaging.recorder import Notice
from property_app.adapters.repository import PropertyUnitOfWork
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


def prepare_valuation(envelope: Envelope, *, delay_seconds: float) -> Valuation | ValuationUnavailable:
    """``ValueProperty``, first phase, outside the transaction: value the property (pure, may be slow)."""
    if delay_seconds:
        time.sleep(delay_seconds)  # the appraiser's work, simulated for demos (VALUATION_DELAY_MS)
    prop = envelope.data["property"]
    try:
        return value_property(
            prop["postcode"], prop["city"], prop["kind"], Decimal(prop["surface_m2"]),
            Decimal(envelope.data["loan_amount"]),
        )
    except ValuationUnavailable as unavailable:
        return unavailable


def apply_valuation(envelope: Envelope, uow: PropertyUnitOfWork, outcome: Valuation | ValuationUnavailable) -> None:
    """``ValueProperty``, second phase: record the valuation (or why there is none) once, and tell the saga."""
    prop = envelope.data["property"]
    values: dict[str, Any] = {
        "application_id": envelope.application_id, "correlation_id": envelope.correlation_id,
        "postcode": prop["postcode"], "city": prop["city"], "kind": prop["kind"],
        "surface_m2": Decimal(prop["surface_m2"]),
    }
    if isinstance(outcome, ValuationUnavailable):
        row = uow.valuations.insert_new({**values, "status": "UNAVAILABLE", "failure_reason": str(outcome),
                                         "adjustments": []})
        if row is not None:
            row.record("PropertyValuationFailed", {
                "code": outcome.code, "message": str(outcome), "round": envelope.data["round"],
            })
        return
    payload = valuation_payload(outcome)
    row = uow.valuations.insert_new({
        **values, "status": "DONE", "estimated_value": outcome.estimated_value,
        "price_per_m2": outcome.price_per_m2, "loan_to_value": outcome.loan_to_value,
        "reference": outcome.reference, "adjustments": payload["adjustments"],
    })
    if row is not None:  # None: valued before (a redelivery), and told then
        row.record("PropertyValued", {"valuation": payload, "round": envelope.data["round"]})


def valuation_failed(envelope: Envelope, uow: PropertyUnitOfWork) -> None:
    """Give-up of ``ValueProperty`` (a bug or the database): fail the step, do not hang.

    No row is written (there is no valuation to show), so the answer goes on a notice.
    """
    notice = uow.track(Notice.about(envelope))
    notice.record("PropertyValuationFailed", {
        "code": "VALUATION_FAILED",
        "message": "The property could not be valued because of a technical failure.",
        "round": envelope.data["round"],
    })

"""The simulator's HTTP API: inquiries (where faults are injected) and the operations endpoints.

``/health``, ``/v1/_faults`` and ``/v1/_requests`` are never faulted, so a test can always switch
an outage off again and ask what is in flight. Log lines carry inquiry ids and references only,
never names or birth dates.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from loanflow.bureau_simulator.state import ReferenceConflictError, SimulatorState
from loanflow.bureau_simulator.validation import (
    MAX_TEXT,
    InvalidRequestError,
    birth_date_field,
    fault_changes,
    text_field,
)

log = logging.getLogger("loanflow.bureau_simulator")

#: Where an app keeps its :class:`SimulatorState` (``app.extensions``).
EXTENSION = "bureau_simulator"

inquiries = Blueprint("bureau_inquiries", __name__, url_prefix="/v1/inquiries")
operations = Blueprint("bureau_operations", __name__)


def register(app: Flask, state: SimulatorState) -> None:
    """Mount both blueprints and the JSON error answers on ``app``, serving ``state``."""
    app.extensions[EXTENSION] = state
    app.register_blueprint(inquiries)
    app.register_blueprint(operations)
    app.register_error_handler(InvalidRequestError, _invalid_request)
    app.register_error_handler(ReferenceConflictError, _reference_conflict)
    app.register_error_handler(HTTPException, _http_error)


def _state() -> SimulatorState:
    return current_app.extensions[EXTENSION]


def _error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": code, "message": message}), status


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequestError("the body must be a JSON object")
    return body


@inquiries.before_request
def _inject_faults() -> tuple[Response, int] | None:
    body = request.get_json(silent=True) if request.method == "POST" else None
    reference = body.get("reference") if isinstance(body, dict) else None
    if isinstance(reference, str) and 0 < len(reference) <= MAX_TEXT:
        g.reference = reference.strip()
        _state().arrived(g.reference)
    delay, fail = _state().draw_fault()
    if delay:
        time.sleep(delay)
    if fail:
        log.info("injected failure: %s %s -> 503", request.method, request.path)
        return _error(503, "unavailable", "simulated bureau outage, try again later")
    return None


@inquiries.teardown_request
def _request_over(_exc: BaseException | None) -> None:
    reference = g.pop("reference", None)
    if reference is not None:
        _state().answered(reference)


@inquiries.post("")
def create_inquiry() -> tuple[Response, int]:
    body = _json_object()
    reference = text_field(body, "reference")
    full_name = text_field(body, "full_name")
    birth_date = birth_date_field(body)
    inquiry, created = _state().inquire(reference, full_name, birth_date)
    log.info(
        "inquiry %s reference=%s created=%s found=%s",
        inquiry["inquiry_id"],
        reference,
        created,
        inquiry["found"],
    )
    return jsonify(inquiry), 201 if created else 200


@inquiries.get("/<inquiry_id>")
def get_inquiry(inquiry_id: str) -> tuple[Response, int]:
    inquiry = _state().get(inquiry_id)
    if inquiry is None:
        return _error(404, "not_found", "no such inquiry")
    return jsonify(inquiry), 200


@inquiries.delete("/<inquiry_id>")
def cancel_inquiry(inquiry_id: str) -> tuple[Response, int]:
    inquiry = _state().cancel(inquiry_id)
    if inquiry is None:
        return _error(404, "not_found", "no such inquiry")
    log.info("inquiry %s cancelled", inquiry_id)
    return jsonify({"inquiry_id": inquiry_id, "status": inquiry["status"]}), 200


@operations.get("/health")
def health() -> tuple[Response, int]:
    return jsonify({"status": "ok"}), 200


@operations.get("/v1/_faults")
def get_faults() -> tuple[Response, int]:
    return jsonify(_state().faults()), 200


@operations.get("/v1/_requests")
def get_requests() -> tuple[Response, int]:
    references = request.args.getlist("reference")[:1000]
    return jsonify(_state().requests(references)), 200


@operations.put("/v1/_faults")
def put_faults() -> tuple[Response, int]:
    changes = fault_changes(_json_object())
    try:
        faults = _state().update_faults(changes)
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(str(exc)) from None
    log.info("faults set to %s", faults)
    return jsonify(faults), 200


def _invalid_request(exc: InvalidRequestError) -> tuple[Response, int]:
    return _error(400, "invalid_request", str(exc))


def _reference_conflict(exc: ReferenceConflictError) -> tuple[Response, int]:
    return _error(409, "reference_conflict", str(exc))


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    code = (exc.name or "error").lower().replace(" ", "_")
    return _error(exc.code or 500, code, exc.description or "")

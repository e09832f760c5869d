"""A stand-in for the external credit bureau, for demos, tests and benchmarks.

Why it exists: the credit service must be exercised against something that speaks HTTP, is slow
and fails like a real bureau, without a contract, network access or real people's data. This app
answers inquiries from a small seeded file of fictional people (``records.json``, described in
``README.md``) and can inject latency and 503 failures, at start-up or at runtime.

Why its state lives in memory only: inquiries sit in a dict guarded by a lock and vanish on restart,
on purpose. A simulator with nothing to migrate or clean up starts in milliseconds and gives every
test and benchmark a blank slate; the credit service must not rely on the bureau remembering
anything it cannot ask again with the same ``reference``. It follows that it must run as ONE
process (gunicorn's default of one worker; add ``--threads`` for concurrency), e.g.::

    gunicorn 'loanflow.bureau_simulator:create_app()' -b 127.0.0.1:8090 --threads 8

Fault settings (config key = environment variable, config wins): ``BUREAU_LATENCY_MS`` (default 0,
applied with a ±20 % jitter), ``BUREAU_FAILURE_RATE`` (0.0-1.0, default 0) and ``BUREAU_SEED`` (seeds
the ``random.Random`` drawing jitter and failures, so a failing run can be replayed). Tests change
them with ``PUT /v1/_faults``. Faults apply to ``/v1/inquiries`` only: ``/health`` and the fault
endpoints always answer, so a test can always switch an outage off again.

``GET /v1/_requests?reference=…`` tells which inquiry requests are being answered right now and how
many were received per reference. Why: a fault test that kills the credit worker mid-call must know
that a call is in flight (not guess with a sleep), and can then prove that the message was delivered
again — the same reference asked twice — instead of inferring it from the final status alone.

Nothing here logs names or birth dates: log lines carry inquiry ids and references only.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

__all__ = ["RECORDS_PATH", "SimulatorState", "create_app", "normalise_name"]

log = logging.getLogger(__name__)

#: The seeded fictional people.
RECORDS_PATH = Path(__file__).with_name("records.json")

_EXTENSION = "bureau_simulator"
_JITTER = 0.2
_MAX_TEXT = 200
_DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FAULT_FIELDS = frozenset({"latency_ms", "failure_rate", "seed"})

PersonKey = tuple[str, str]


class InvalidRequestError(Exception):
    """A request the simulator refuses with 400; the message names the field, never its value."""


class ReferenceConflictError(Exception):
    """A ``reference`` reused for a different person (409): idempotency keys identify one inquiry."""


def normalise_name(full_name: str) -> str:
    """Case-, accent- and whitespace-insensitive form: ``" hélène  ÉCHÉANCE"`` → ``"helene echeance"``."""
    decomposed = unicodedata.normalize("NFKD", full_name)
    unaccented = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(unaccented.casefold().split())


def _latency_ms(value: Any) -> int:
    if isinstance(value, str):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("latency_ms must be an integer >= 0")
    return value


def _failure_rate(value: Any) -> float:
    if isinstance(value, str):
        value = float(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValueError("failure_rate must be a number between 0.0 and 1.0")
    return float(value)


def _seed(value: Any) -> int | None:
    if isinstance(value, str):
        value = int(value.strip()) if value.strip() else None
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError("seed must be an integer or null")
    return value


@dataclass
class Faults:
    """The injected faults currently in force."""

    latency_ms: int = 0
    failure_rate: float = 0.0
    seed: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, "failure_rate": self.failure_rate, "seed": self.seed}


@dataclass
class _Inquiry:
    inquiry_id: str
    reference: str
    person: PersonKey
    record: Mapping[str, Any] | None
    status: str = "active"

    def as_dict(self) -> dict[str, Any]:
        record = self.record or {}
        return {
            "inquiry_id": self.inquiry_id,
            "reference": self.reference,
            "status": self.status,
            "found": self.record is not None,
            "payment_incidents": list(record.get("payment_incidents", [])),
            "open_credits": list(record.get("open_credits", [])),
        }


def load_records(path: Path = RECORDS_PATH) -> dict[PersonKey, Mapping[str, Any]]:
    """The seeded people, indexed by normalised name and birth date."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return {(normalise_name(r["full_name"]), r["birth_date"]): r for r in document["records"]}


class SimulatorState:
    """Inquiries, fault settings and the random generator of one app; every access holds the lock."""

    def __init__(self, records: Mapping[PersonKey, Mapping[str, Any]], faults: Faults) -> None:
        self._records = dict(records)
        self._inquiries: dict[str, _Inquiry] = {}
        self._by_reference: dict[str, str] = {}
        self._faults = faults
        self._rng = random.Random(faults.seed)
        self._lock = threading.Lock()
        self._received: Counter[str] = Counter()
        self._in_flight: Counter[str] = Counter()

    @property
    def record_count(self) -> int:
        return len(self._records)

    def inquire(self, reference: str, full_name: str, birth_date: str) -> tuple[dict[str, Any], bool]:
        """The inquiry for ``reference`` and whether it was created now (False: a replay)."""
        person = (normalise_name(full_name), birth_date)
        with self._lock:
            existing_id = self._by_reference.get(reference)
            if existing_id is not None:
                return self._replay(existing_id, person), False
            inquiry = _Inquiry(f"inq_{uuid.uuid4().hex}", reference, person, self._records.get(person))
            self._inquiries[inquiry.inquiry_id] = inquiry
            self._by_reference[reference] = inquiry.inquiry_id
            return inquiry.as_dict(), True

    def _replay(self, inquiry_id: str, person: PersonKey) -> dict[str, Any]:
        inquiry = self._inquiries[inquiry_id]
        if inquiry.person != person:
            raise ReferenceConflictError("reference already used for another person")
        return inquiry.as_dict()

    def get(self, inquiry_id: str) -> dict[str, Any] | None:
        with self._lock:
            inquiry = self._inquiries.get(inquiry_id)
            return inquiry.as_dict() if inquiry else None

    def cancel(self, inquiry_id: str) -> dict[str, Any] | None:
        """Mark the inquiry cancelled (again, harmlessly, if it already was); ``None`` if unknown."""
        with self._lock:
            inquiry = self._inquiries.get(inquiry_id)
            if inquiry is None:
                return None
            inquiry.status = "cancelled"
            return inquiry.as_dict()

    def faults(self) -> dict[str, Any]:
        with self._lock:
            return self._faults.as_dict()

    def arrived(self, reference: str) -> None:
        """An inquiry request for ``reference`` came in (counted before any injected delay)."""
        with self._lock:
            self._received[reference] += 1
            self._in_flight[reference] += 1

    def answered(self, reference: str) -> None:
        """The request for ``reference`` is over, answered or not (the client may be gone)."""
        with self._lock:
            self._in_flight[reference] -= 1
            if self._in_flight[reference] <= 0:
                del self._in_flight[reference]

    def requests(self, references: list[str]) -> dict[str, Any]:
        """The references in flight now, and how many requests each of ``references`` made."""
        with self._lock:
            return {"in_flight": sorted(self._in_flight),
                    "received": {r: self._received.get(r, 0) for r in references},
                    "total": sum(self._received.values())}

    def update_faults(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Validate every change first, then apply them all; a new ``seed`` re-seeds the generator."""
        latency = _latency_ms(changes["latency_ms"]) if "latency_ms" in changes else None
        rate = _failure_rate(changes["failure_rate"]) if "failure_rate" in changes else None
        seed = _seed(changes["seed"]) if "seed" in changes else None
        with self._lock:
            if latency is not None:
                self._faults.latency_ms = latency
            if rate is not None:
                self._faults.failure_rate = rate
            if "seed" in changes:
                self._faults.seed = seed
                self._rng.seed(seed)
            return self._faults.as_dict()

    def draw_fault(self) -> tuple[float, bool]:
        """The delay (seconds) and whether to fail, for one request."""
        with self._lock:
            latency, rate = self._faults.latency_ms, self._faults.failure_rate
            delay = latency / 1000 * self._rng.uniform(1 - _JITTER, 1 + _JITTER) if latency else 0.0
            fail = rate > 0 and self._rng.random() < rate
        return delay, fail


def _state() -> SimulatorState:
    return current_app.extensions[_EXTENSION]


def _error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": code, "message": message}), status


def _text_field(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_TEXT:
        raise InvalidRequestError(f"{name} must be a non-empty string of at most {_MAX_TEXT} characters")
    return value.strip()


def _birth_date_field(body: Mapping[str, Any]) -> str:
    value = body.get("birth_date")
    if isinstance(value, str) and _DATE_SHAPE.fullmatch(value):
        with suppress(ValueError):
            return date.fromisoformat(value).isoformat()
    raise InvalidRequestError("birth_date must be a calendar date as YYYY-MM-DD")


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequestError("the body must be a JSON object")
    return body


inquiries = Blueprint("bureau_inquiries", __name__, url_prefix="/v1/inquiries")
operations = Blueprint("bureau_operations", __name__)


@inquiries.before_request
def _inject_faults() -> tuple[Response, int] | None:
    body = request.get_json(silent=True) if request.method == "POST" else None
    reference = body.get("reference") if isinstance(body, dict) else None
    if isinstance(reference, str) and 0 < len(reference) <= _MAX_TEXT:
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
    reference = _text_field(body, "reference")
    full_name = _text_field(body, "full_name")
    birth_date = _birth_date_field(body)
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
    body = _json_object()
    unknown = sorted(set(body) - _FAULT_FIELDS)
    if not body or unknown:
        raise InvalidRequestError(f"expected some of {sorted(_FAULT_FIELDS)}, got unknown {unknown}")
    try:
        faults = _state().update_faults(body)
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


def _setting(config: Mapping[str, Any], name: str, default: Any) -> Any:
    if name in config:
        return config[name]
    return os.environ.get(name, default)


def _faults_from(config: Mapping[str, Any]) -> Faults:
    return Faults(
        latency_ms=_latency_ms(_setting(config, "BUREAU_LATENCY_MS", 0)),
        failure_rate=_failure_rate(_setting(config, "BUREAU_FAILURE_RATE", 0.0)),
        seed=_seed(_setting(config, "BUREAU_SEED", None)),
    )


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the simulator. ``config`` overrides the ``BUREAU_*`` environment variables.

    Also read: ``BUREAU_RECORDS_PATH`` (another seed file); any other key goes to ``app.config``.
    Raises ``ValueError`` on an invalid fault setting, so a bad deployment fails at start-up.
    """
    settings = dict(config or {})
    records = load_records(Path(_setting(settings, "BUREAU_RECORDS_PATH", RECORDS_PATH)))
    state = SimulatorState(records, _faults_from(settings))
    app = Flask(__name__)
    app.config.update(settings)
    app.extensions[_EXTENSION] = state
    app.register_blueprint(inquiries)
    app.register_blueprint(operations)
    app.register_error_handler(InvalidRequestError, _invalid_request)
    app.register_error_handler(ReferenceConflictError, _reference_conflict)
    app.register_error_handler(HTTPException, _http_error)
    log.info("bureau simulator ready: %d records, faults %s", state.record_count, state.faults())
    return app

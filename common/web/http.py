"""The Flask application every service is: flask-smorest API, Swagger UI, health, errors, limits.

All five services are built by :func:`create_service_app`, so they share one error format
(flask-smorest's ``{code, status, message, errors}``), the same body-size limit (413), the same
input guards (415 for bodies that are not JSON, 400 for JSON we cannot decode, 422 for text
PostgreSQL cannot store), the same operational endpoints (``/<svc>/health``, ``/<svc>/ready``,
``/<svc>/metrics``) and Swagger UI served from local files (no CDN: it must work on a machine
without internet).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NoReturn, TypeVar

import marshmallow as ma
import swagger_ui_bundle
from flask import Flask, current_app, jsonify, request, send_from_directory
from flask_smorest import Api, Blueprint, abort
from flask_smorest.error_handler import ErrorSchema
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, ServiceUnavailable

from common.kernel.metrics import install_http_metrics, metrics_response
from common.messaging.broker import BrokerProbe
from common.service.runtime import Runtime
from common.web.auth import Caller, bearer_token, identify
from common.web.openapi import ContractFixes

log = logging.getLogger(__name__)

_SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An applicant's access token (from the 202 answer) or the staff token.",
    }
}


#: What each error status means in every service (docs/api.md), for the OpenAPI documents.
ERROR_MEANINGS = {
    400: "The body is not valid JSON (syntax, encoding, or nested too deeply).",
    401: "No or invalid bearer token.",
    403: "An applicant's token on a staff endpoint.",
    404: "Unknown or malformed id, or another applicant's application (its existence is not revealed).",
    409: "The action does not fit the current state.",
    413: "The body is larger than the configured limit.",
    415: "The body is not JSON (Content-Type must be application/json).",
    422: "Validation failed; ``errors`` names each field.",
}

_View = TypeVar("_View", bound=Callable[..., Any])


def documented_errors(blp: Blueprint, *codes: int, **meanings: str) -> Callable[[_View], _View]:
    """Document the error answers of a view (in the common error schema), so that clients and the
    OpenAPI fuzzer know every status it may answer. ``meanings`` (``e409="…"``) override the
    generic texts for this view."""

    def decorate(view: _View) -> _View:
        for code in codes:
            description = meanings.get(f"e{code}", ERROR_MEANINGS[code])
            view = blp.alt_response(code, schema=ErrorSchema, description=description)(view)
        return view

    return decorate


def runtime() -> Runtime:
    """The :class:`Runtime` of the service handling the current request."""
    return current_app.extensions["loanflow.runtime"]


def current_caller() -> Caller | None:
    """The authenticated caller of the current request, or ``None``."""
    from flask import request

    settings = runtime().settings
    return identify(bearer_token(request), staff_token=settings.staff_token, secret_key=settings.secret_key)


def require_reader(application_id: str) -> Caller:
    """The caller, if they may read ``application_id``: 401 without a valid token, and 404 (not
    403) for someone else's application, so that an id's existence is never revealed."""
    from flask_smorest import abort

    caller = current_caller()
    if caller is None:
        abort(401, message="A valid bearer token is required.", headers={"WWW-Authenticate": "Bearer"})
    if not caller.may_read(application_id):
        abort(404, message="Not found.")
    return caller


def owned_record(model: type, application_id: str) -> Any:
    """The row of ``model`` keyed by ``application_id``, for its applicant or staff; else 401/404."""
    from flask_smorest import abort

    require_reader(application_id)
    with runtime().session_factory() as session:
        record = session.get(model, application_id)
    if record is None:
        abort(404, message="Not found.")
    return record


def require_staff() -> Caller:
    """The caller, if staff: 401 without a valid token, 403 for an applicant's token."""
    from flask_smorest import abort

    caller = current_caller()
    if caller is None:
        abort(401, message="A valid bearer token is required.", headers={"WWW-Authenticate": "Bearer"})
    if not caller.staff:
        abort(403, message="Staff only.")
    return caller


def create_service_app(rt: Runtime, *, title: str, description: str) -> Flask:
    """Build the WSGI app of one service (routes live under ``/<service>/``)."""
    name = rt.name
    app = Flask(f"{name}_app")
    app.config.update(
        API_TITLE=title,
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=f"/{name}",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=f"/{name}/docs/assets/",
        API_SPEC_OPTIONS={
            "info": {"description": description},
            "components": {"securitySchemes": _SECURITY_SCHEMES},
        },
        MAX_CONTENT_LENGTH=rt.settings.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    app.extensions["loanflow.runtime"] = rt
    api = Api(app, spec_kwargs={"extra_plugins": [ContractFixes(MAX_PAGE)]})
    for documenting in (numeric_bounds, decimal_strings):  # before the blueprints are read
        api.ma_plugin.converter.add_attribute_function(documenting)
    from common.operations.operations_api import operations_blueprint
    from common.operations.outbox_api import outbox_blueprint

    for blueprint in [*rt.definition.blueprints, operations_blueprint(name), outbox_blueprint(name)]:
        api.register_blueprint(blueprint)
    if rt.definition.setup_app is not None:
        rt.definition.setup_app(app, rt)
    _add_operational_routes(app, rt)
    _add_error_handlers(app, api)
    app.before_request(refuse_unusable_input)
    install_http_metrics(app, name)
    return app


def numeric_bounds(self: Any, field: Any, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function: OpenAPI bounds are numbers, but apispec writes a bound the way
    the field serialises values, so a Decimal field with ``as_string`` documented
    ``"minimum": "0.00"``: an invalid document, on which clients and the fuzzer misread limits."""
    bounds = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    return {key: _number(ret[key]) for key in bounds if isinstance(ret.get(key), str | Decimal)}


def decimal_strings(self: Any, field: Any, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function: a Decimal field with ``as_string`` answers ``"375000.00"``
    (never a float: money to the cent) but apispec documents every Decimal as a number, so each
    valuation and inquiry contradicted its own schema. A ``type`` given in the field's metadata
    wins (input fields that accept numbers say so)."""
    if isinstance(field, ma.fields.Decimal) and field.as_string and "type" not in field.metadata:
        return {"type": "string", "format": "decimal"}
    return {}


def _number(value: str | Decimal) -> int | float:
    number = Decimal(value)
    return int(number) if number == number.to_integral_value() else float(number)


def _add_operational_routes(app: Flask, rt: Runtime) -> None:
    name = rt.name
    probe = BrokerProbe(rt.settings.broker_url)

    @app.get(f"/{name}/docs/assets/<path:filename>")
    def swagger_assets(filename: str) -> Any:
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=3600)

    @app.get(f"/{name}/health")
    def health() -> Any:
        """Liveness: the process answers (Kubernetes restarts it otherwise)."""
        return jsonify(status="ok", service=name)

    @app.get(f"/{name}/ready")
    def ready() -> Any:
        """Readiness: this service's database and the broker are reachable."""
        checks = {"database": _database_ok(rt), "broker": probe.ok()}
        status = 200 if all(checks.values()) else 503
        return jsonify(status="ready" if status == 200 else "unavailable", service=name, checks=checks), status

    from common.operations.state_metrics import shared_state

    def state() -> Any:
        yield from shared_state(rt)
        if rt.definition.state_metrics is not None:
            yield from rt.definition.state_metrics(rt)

    @app.get(f"/{name}/metrics")
    def metrics() -> Any:
        """Prometheus metrics of this process (or of all workers in multiprocess mode), plus the
        service's state read from its database (outbox lag, dead letters, business figures)."""
        return metrics_response(state)


def _database_ok(rt: Runtime) -> bool:
    try:
        with rt.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        log.warning("readiness: database unreachable")
        return False
    return True


#: Seconds a client is asked to wait when the database is unreachable (a restart takes a few).
DATABASE_RETRY_AFTER_SECONDS = 2


def _add_error_handlers(app: Flask, api: Api) -> None:
    @app.errorhandler(MethodNotAllowed)
    def method_not_allowed(error: MethodNotAllowed) -> Any:
        # flask-smorest's handler keeps only the headers passed to abort(); a 405 must say what
        # is allowed (RFC 9110), so that a client can correct itself without reading the docs.
        allowed = ", ".join(sorted(error.valid_methods or []))
        payload, code, headers = api.handle_http_exception(error)
        payload["message"] = f"Method not allowed here; allowed: {allowed}."
        return payload, code, {**headers, "Allow": allowed}

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError) -> Any:
        # The database is down, restarting or cut the connection (FAULTS #6, #7): an outage of a
        # dependency, not a bug. Nothing was committed unless the commit itself was cut, so the
        # client may try again; pool_pre_ping replaces the dead connections once it is back.
        log.warning("database unavailable", extra={"error": type(error.orig).__name__})
        failure = ServiceUnavailable()
        return (jsonify(code=503, status=failure.name, message="Database unavailable; try again shortly."), 503,
                {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        # HTTP errors keep flask-smorest's handler; anything else is a bug: log it, answer JSON 500.
        if isinstance(error, HTTPException):
            return error
        log.exception("unhandled error")
        failure = InternalServerError()
        return jsonify(code=500, status=failure.name, message="Internal error; it has been logged."), 500


# --- input guards ------------------------------------------------------------------------------

#: Deeper JSON is refused. Our bodies are three levels deep; Python's JSON decoder is recursive,
#: so ``[[[[…]]]]`` within the size limit would otherwise end in a RecursionError (a 500).
MAX_JSON_DEPTH = 32

#: NUL cannot be stored in a PostgreSQL text value (psycopg raises) and unpaired surrogates cannot
#: be encoded as UTF-8 at all: text carrying either would fail in this service's transaction, or
#: worse, later in another service's consumer. Refused at the door, in every service, for every
#: body and query string, whatever the schema says.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_UNSTORABLE_MESSAGE = "Must not contain NUL characters or unpaired surrogates."

#: The last page a paginated list serves. The lists compute ``OFFSET (page - 1) * page_size`` and
#: PostgreSQL's OFFSET is a bigint: ``page=10**20`` ended in a 500. A million pages of up to 100
#: rows is far beyond any list an operator reads; every list of every service takes ``page``.
MAX_PAGE = 1_000_000


def refuse_unusable_input() -> None:
    """``before_request``: refuse what no view can use, with a 4xx in the common error format.

    - a body that is not JSON: ``415`` (webargs would otherwise read it as an empty body and
      answer a misleading ``422 Missing data``);
    - JSON that does not decode (not UTF-8, too deep, integers beyond Python's digit limit):
      ``400``, as webargs does for syntax errors (it lets these escape as 500s);
    - NUL characters or unpaired surrogates anywhere in the body or the query string: ``422``
      naming where; in a header: ``400``;
    - a ``page`` beyond :data:`MAX_PAGE`: ``422``.

    Unknown routes and methods keep their 404/405 (the body does not matter there).
    """
    if request.routing_exception is not None:
        return
    if any("\x00" in value for value in request.headers.values()):
        abort(400, message="Header values must not contain NUL characters.")
    query_errors = {_printable(key): [_UNSTORABLE_MESSAGE] for key, value in request.args.items(multi=True)
                    if _UNSTORABLE.search(key) or _UNSTORABLE.search(value)}
    if _page_number(request.args.get("page")) > MAX_PAGE:
        query_errors["page"] = [f"Must be less than or equal to {MAX_PAGE}."]
    if query_errors:
        abort(422, errors={"query": query_errors}, message="Some query parameters cannot be accepted.")
    if not request.content_length and "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
        return
    if not request.is_json:
        abort(415, message="The body must be JSON, sent with Content-Type: application/json.")
    body_errors = _unstorable_strings(_decode_json(request.get_data(cache=True)))
    if body_errors:
        abort(422, errors={"json": body_errors}, message="Some values cannot be accepted.")


def _page_number(value: str | None) -> int:
    """The page asked for; 0 when absent or not an integer (the list's own schema says why)."""
    try:
        return int(value or 0)
    except ValueError:  # not a number, or more digits than Python converts
        return 0


def _decode_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))  # RFC 8259: JSON between systems is UTF-8
    except RecursionError:
        _invalid_json(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
    except ValueError:  # syntax, not UTF-8 (UnicodeDecodeError), integers beyond the digit limit
        _invalid_json("Invalid JSON body.")


def _invalid_json(message: str) -> NoReturn:
    abort(400, errors={"json": [message]}, message=message)


def _unstorable_strings(document: Any) -> dict[str, Any]:
    """``{path…: [message]}`` (nested like marshmallow's errors) for every bad key or string.

    Iterative, so that depth is checked before anything else recurses into the document.
    """
    errors: dict[str, Any] = {}
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        if len(path) > MAX_JSON_DEPTH:
            _invalid_json(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
        if isinstance(value, dict):
            for key, item in value.items():
                if _UNSTORABLE.search(key):
                    _record(errors, (*path, _printable(key)))
                else:
                    stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))
        elif isinstance(value, str) and _UNSTORABLE.search(value):
            _record(errors, path)
    return errors


def _record(errors: dict[str, Any], path: tuple[str | int, ...]) -> None:
    # Keys as strings (list positions too): the JSON answer is the same, and sorting keys of
    # mixed types while serialising it cannot fail.
    *parents, leaf = [str(step) for step in path] or ["_schema"]
    node = errors
    for step in parents:
        node = node.setdefault(step, {})
    node[leaf] = [_UNSTORABLE_MESSAGE]


def _printable(text: str) -> str:
    """``text`` fit to be echoed in an error (and logged): bad characters become U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)

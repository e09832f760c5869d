"""The Flask application every service is: flask-smorest API, Swagger UI, probes, errors, limits.

All five services are built by :func:`create_service_app`, so they share one error format
(flask-smorest's ``{code, status, message, errors}``), the same body-size limit (413), the same
input guards (:mod:`common.web.input_guards`), the same operational endpoints
(:mod:`common.operations`: probes, dead letters, tasks, parked outbox rows), the same security
headers (:mod:`common.web.security_headers`) and Swagger UI served from local files
(:mod:`common.web.swagger`; no CDN: it must work on a machine without internet). This module is
where the web layer and the operations endpoints meet; neither imports it.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from flask_smorest import Api
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, ServiceUnavailable

from common.kernel.metrics import install_http_metrics
from common.operations.probes import install_probes
from common.operations.routes import register_operations
from common.service.runtime import Runtime
from common.web.blueprint import SECURITY_SCHEMES
from common.web.context import RUNTIME_KEY
from common.web.input_guards import MAX_PAGE, refuse_unusable_input
from common.web.openapi import ContractFixes, decimal_strings, numeric_bounds
from common.web.security_headers import install_security_headers
from common.web.swagger import install_swagger_ui

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait when the database is unreachable (a restart takes a few).
DATABASE_RETRY_AFTER_SECONDS = 2


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
        API_SPEC_OPTIONS={
            "info": {"description": description},
            "components": {"securitySchemes": SECURITY_SCHEMES},
        },
        MAX_CONTENT_LENGTH=rt.settings.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    app.extensions[RUNTIME_KEY] = rt
    api = Api(app, spec_kwargs={"extra_plugins": [ContractFixes(MAX_PAGE)]})
    for documenting in (numeric_bounds, decimal_strings):  # before the blueprints are read
        api.ma_plugin.converter.add_attribute_function(documenting)
    for blueprint in rt.definition.blueprints():
        api.register_blueprint(blueprint)
    register_operations(api, name)
    if rt.definition.setup_app is not None:
        rt.definition.setup_app(app, rt)
    install_swagger_ui(app, name, title)
    install_probes(app, rt)
    _add_error_handlers(app, api)
    app.before_request(refuse_unusable_input)
    install_http_metrics(app, name)
    install_security_headers(app)
    return app


def _add_error_handlers(app: Flask, api: Api) -> None:
    @app.errorhandler(MethodNotAllowed)
    def method_not_allowed(error: MethodNotAllowed) -> Any:
        # flask-smorest's handler keeps only the headers passed to abort(); a 405 must say what
        # is allowed (RFC 9110), so that a client can correct itself without reading the docs.
        allowed = ", ".join(sorted(error.valid_methods or []))
        payload, code, headers = api.handle_http_exception(error)
        payload["message"] = f"Method not allowed here; allowed: {allowed}."
        return payload, code, {**headers, "Allow": allowed}

    app.register_error_handler(OperationalError, database_unavailable)
    app.register_error_handler(Exception, unexpected)


def database_unavailable(error: OperationalError) -> Any:
    """The database is down, restarting or cut the connection (FAULTS #6, #7): an outage of a
    dependency, not a bug. Nothing was committed unless the commit itself was cut, so the client
    may try again; pool_pre_ping replaces the dead connections once it is back."""
    log.warning("database unavailable", extra={"error": type(error.orig).__name__})
    failure = ServiceUnavailable()
    return (jsonify(code=503, status=failure.name, message="Database unavailable; try again shortly."), 503,
            {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})


def unexpected(error: Exception) -> Any:
    """HTTP errors keep flask-smorest's handler; anything else is a bug: log it, answer JSON 500."""
    if isinstance(error, HTTPException):
        return error
    log.exception("unhandled error")
    failure = InternalServerError()
    return jsonify(code=500, status=failure.name, message="Internal error; it has been logged."), 500

"""The Flask application every service is: flask-smorest API, Swagger UI, health, errors, limits.

All five services are built by :func:`create_service_app`, so they share one error format
(flask-smorest's ``{code, status, message, errors}``), the same body-size limit (413), the same
operational endpoints (``/<svc>/health``, ``/<svc>/ready``, ``/<svc>/metrics``) and Swagger UI
served from local files (no CDN: it must work on a machine without internet).
"""

from __future__ import annotations

import logging
from typing import Any

import swagger_ui_bundle
from flask import Flask, current_app, jsonify, send_from_directory
from flask_smorest import Api
from sqlalchemy import text
from werkzeug.exceptions import HTTPException, InternalServerError

from common.auth import Caller, bearer_token, identify
from common.broker import BrokerProbe
from common.metrics import install_http_metrics, metrics_response
from common.runtime import Runtime

log = logging.getLogger(__name__)

_SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An applicant's access token (from the 202 answer) or the staff token.",
    }
}


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
    api = Api(app)
    from common.operations_api import operations_blueprint

    for blueprint in [*rt.definition.blueprints, operations_blueprint(name)]:
        api.register_blueprint(blueprint)
    _add_operational_routes(app, rt)
    _add_error_handlers(app)
    install_http_metrics(app, name)
    return app


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

    @app.get(f"/{name}/metrics")
    def metrics() -> Any:
        """Prometheus metrics of this process (or of all workers in multiprocess mode)."""
        return metrics_response()


def _database_ok(rt: Runtime) -> bool:
    try:
        with rt.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        log.warning("readiness: database unreachable")
        return False
    return True


def _add_error_handlers(app: Flask) -> None:
    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        # HTTP errors keep flask-smorest's handler; anything else is a bug: log it, answer JSON 500.
        if isinstance(error, HTTPException):
            return error
        log.exception("unhandled error")
        failure = InternalServerError()
        return jsonify(code=500, status=failure.name, message="Internal error; it has been logged."), 500

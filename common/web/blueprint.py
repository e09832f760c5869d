"""flask-smorest's Blueprint with our security scheme: a view declares who may call it once.

``@blp.staff_only`` or ``@blp.applicant_or_staff`` under a view's other decorators does three
things that used to be written apart on every protected view: it checks the bearer token (401
without a valid one; 403 for an applicant on a staff view; 404, never 403, for someone else's
application, so that an id's existence is not revealed), documents those answers in the common
error schema, and adds the OpenAPI security requirement. The scheme itself is declared once here
(:data:`SECURITY_SCHEMES`, read by the app factory).

A guard is the innermost decorator, so it runs after flask-smorest has parsed the arguments (a
malformed request is a 422 whoever sends it) and the view reads the admitted caller with
:func:`common.web.context.current_caller`. ``blp.errors(...)`` documents a view's other error
answers with the texts of :data:`ERROR_MEANINGS`; :func:`or_404` turns a query's ``None`` into
the 404 of the common error format.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import flask_smorest
from flask import request
from flask_smorest import abort
from flask_smorest.error_handler import ErrorSchema

from common.web.auth import Caller, identify_request
from common.web.context import admit, runtime

#: The OpenAPI security schemes of every service (``components.securitySchemes``).
SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An applicant's access token (from the 202 answer) or the staff token.",
    }
}
#: The security requirement of a guarded view.
SECURITY = [{"bearer": []}]

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
#: The ``Retry-After`` header of a refusal that asks the client to come back (429, 503), as
#: documented in an OpenAPI response.
RETRY_AFTER_HEADER = {"Retry-After": {"description": "Seconds to wait before trying again.",
                                      "schema": {"type": "integer", "minimum": 1}}}
#: What a 401 means on a view that also takes the token as ``?token=``.
UNAUTHENTICATED_WITH_QUERY = "No or invalid token (Authorization: Bearer, or the token query parameter)."

_View = TypeVar("_View", bound=Callable[..., Any])
_Found = TypeVar("_Found")
#: ``rule(caller, view_kwargs)``: aborts when the admitted caller may not go on.
_Rule = Callable[[Caller, dict[str, Any]], None]


def _staff(caller: Caller, view_kwargs: dict[str, Any]) -> None:
    if not caller.staff:
        abort(403, message="Staff only.")


def _applicant_or_staff(caller: Caller, view_kwargs: dict[str, Any]) -> None:
    if not caller.may_read(str(view_kwargs["application_id"])):
        abort(404, message="Not found.")


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest Blueprint whose views declare their access rule once (see the module doc)."""

    def staff_only(self, view: _View | None = None, *, query_token: bool = False) -> Any:
        """Staff only: 401 without a valid token, 403 for an applicant's token.

        ``query_token``: the token may come as ``?token=`` (EventSource, plain links).
        """
        return self._guard(view, _staff, (401, 403), query_token)

    def applicant_or_staff(self, view: _View | None = None, *, query_token: bool = False) -> Any:
        """Staff, or the applicant of the view's ``application_id``: 401 without a valid token,
        404 for another application (its existence is not revealed)."""
        return self._guard(view, _applicant_or_staff, (401, 404), query_token)

    def errors(self, *codes: int, **meanings: str) -> Callable[[_View], _View]:
        """Document the error answers of a view (in the common error schema), so that clients and
        the OpenAPI fuzzer know every status it may answer. ``meanings`` (``e409="…"``) override
        the generic texts for this view."""

        def decorate(view: _View) -> _View:
            for code in codes:
                description = meanings.get(f"e{code}", ERROR_MEANINGS[code])
                view = self.alt_response(code, schema=ErrorSchema, description=description)(view)
            return view

        return decorate

    def _guard(self, view: _View | None, rule: _Rule, codes: tuple[int, ...], query_token: bool) -> Any:
        def decorate(function: _View) -> _View:
            @wraps(function)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                caller = _authenticate(query_token)
                rule(caller, kwargs)
                admit(caller)
                return function(*args, **kwargs)

            meanings = {"e401": UNAUTHENTICATED_WITH_QUERY} if query_token else {}
            documented = self.errors(*codes, **meanings)(guarded)
            return self.doc(security=SECURITY)(documented)

        return decorate(view) if view is not None else decorate


def or_404(found: _Found | None, message: str = "Not found.") -> _Found:
    """``found``, or a 404 in the common error format when a query found nothing."""
    if found is None:
        abort(404, message=message)
    return found


def _authenticate(query_token: bool) -> Caller:
    """The caller of the request, or 401 (with ``WWW-Authenticate``) when its token opens nothing."""
    caller = identify_request(request, runtime().settings, query=query_token)
    if caller is None:
        message = "A valid token is required." if query_token else "A valid bearer token is required."
        abort(401, message=message, headers={"WWW-Authenticate": "Bearer"})
    return caller

"""flask-smorest's Blueprint with our security scheme: a view declares who may call it once.

``@blp.staff_only(OFFICER)`` or ``@blp.applicant_or_staff`` under a view's other decorators
does three things that used to be written apart on every protected view: it checks the bearer
token (401 without a valid one; 403 for an applicant on a staff view, or for a staff member
whose role the view does not admit; 404, never 403, for someone else's application, so that an
id's existence is not revealed), documents those answers in the common error schema, and adds
the OpenAPI security requirement. The roles (``common.identity.roles``) are named on the view;
``admin`` is always admitted, and a view naming none is an admin's only. The scheme itself is declared once here
(:data:`SECURITY_SCHEMES`, read by the app factory).

An applicant's genuine token that expired or was revoked is a ``401`` with ``errors.reason``
(``TOKEN_EXPIRED``, ``TOKEN_REVOKED``; :mod:`common.web.applicant_access`), never a ``404``.
Tokens come from the ``Authorization`` header only; the endpoints a browser opens without
headers name another way in (``credential=``: notify's live tickets and signed document links).

A guard is the innermost decorator, so it runs after flask-smorest has parsed the arguments (a
malformed request is a 422 whoever sends it) and the view reads the admitted caller with
:func:`common.web.context.current_caller`. ``blp.errors(...)`` documents a view's other error
answers with the texts of :data:`ERROR_MEANINGS`; :func:`or_404` turns a query's ``None`` into
the 404 of the common error format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

import flask_smorest
from flask import request
from flask_smorest import abort
from flask_smorest.error_handler import ErrorSchema

from common.identity.roles import ADMIN, OFFICER, check_role
from common.web.applicant_access import AccessRefused, check_with_facts, refusal_body
from common.web.auth import Caller, identify_request
from common.web.context import admit, runtime

#: The OpenAPI security schemes of every service (``components.securitySchemes``).
SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An applicant's access token (from the 202 answer), or a staff member's token "
                       "(POST /auth/token).",
    }
}
#: The security requirement of a guarded view.
SECURITY = [{"bearer": []}]

#: What each error status means in every service (docs/api.md), for the OpenAPI documents.
ERROR_MEANINGS = {
    400: "The body is not valid JSON (syntax, encoding, or nested too deeply).",
    401: "No or invalid bearer token; an expired or revoked applicant token (errors.reason TOKEN_EXPIRED or "
         "TOKEN_REVOKED).",
    403: "An applicant's token on a staff endpoint, or a staff role this endpoint does not admit.",
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
#: What a 401 means on a view that also takes another credential (a live ticket, a signed link).
UNAUTHENTICATED_WITH_CREDENTIAL = ("No or invalid bearer token nor {name}; an expired or revoked token or {name} "
                                   "(errors.reason says which).")

_View = TypeVar("_View", bound=Callable[..., Any])
_Found = TypeVar("_Found")
#: ``rule(caller, view_kwargs)``: aborts when the admitted caller may not go on.
_Rule = Callable[[Caller, dict[str, Any]], None]


@dataclass(frozen=True)
class Credential:
    """A view's other way in, for requests without a bearer token (browsers' EventSource and links).

    ``read(view_kwargs)`` gives the caller the credential stands for, ``None`` when the request
    carries none, or raises :class:`AccessRefused` (expired, used, tampered with); ``name`` says
    what it is in the OpenAPI document (``"a live ticket (?ticket=)"``).
    """

    name: str
    read: Callable[[dict[str, Any]], Caller | None]


def _staff(roles: tuple[str, ...]) -> _Rule:
    def rule(caller: Caller, view_kwargs: dict[str, Any]) -> None:
        if not caller.staff:
            abort(403, message="Staff only.")
        _check_role(caller, roles)

    return rule


def _check_role(caller: Caller, roles: tuple[str, ...]) -> None:
    if not caller.has_role(*roles):
        needed = " or ".join((*roles, ADMIN)) if roles else ADMIN
        abort(403, message=f"Your role ({caller.role}) may not do this: it needs {needed}.")


def _applicant_or_staff(roles: tuple[str, ...]) -> _Rule:
    def rule(caller: Caller, view_kwargs: dict[str, Any]) -> None:
        if caller.staff:
            _check_role(caller, roles)
        _applicant_rule(caller, view_kwargs)

    return rule


def _applicant_rule(caller: Caller, view_kwargs: dict[str, Any]) -> None:
    if not caller.staff and runtime().definition.access_facts is None:
        # Fail closed: without facts a revoked token would pass. A programming error, not a 401.
        raise RuntimeError(f"{runtime().name} admits applicants but keeps no access facts")
    if not caller.may_read(str(view_kwargs["application_id"])):
        abort(404, message="Not found.")


def _signed_in(caller: Caller, view_kwargs: dict[str, Any]) -> None:
    """Anyone with a valid token: what they may then do is the next request's business."""


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest Blueprint whose views declare their access rule once (see the module doc)."""

    def staff_only(self, *roles: str, credential: Credential | None = None) -> Callable[[_View], _View]:
        """Staff whose role is one of ``roles`` (or admin; none named: admin only): 401 without a
        valid token, 403 for an applicant's token or another role.

        ``credential``: another way in than the bearer token (see :class:`Credential`).
        """
        return self._guard(None, _staff(_roles(roles)), (401, 403), credential)  # type: ignore[no-any-return]

    def applicant_or_staff(self, view: _View | None = None, *, roles: tuple[str, ...] = (OFFICER,),
                           credential: Credential | None = None) -> Any:
        """Staff whose role is one of ``roles`` (officers by default, and admin), or the applicant
        of the view's ``application_id``: 401 without a valid token (or an expired or revoked
        one), 403 for another staff role, 404 for another application (its existence is not
        revealed)."""
        return self._guard(view, _applicant_or_staff(_roles(roles)), (401, 403, 404), credential)

    def signed_in(self, view: _View | None = None) -> Any:
        """Anyone with a valid token, staff or applicant: 401 otherwise."""
        return self._guard(view, _signed_in, (401,), None)

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

    def _guard(self, view: _View | None, rule: _Rule, codes: tuple[int, ...], credential: Credential | None) -> Any:
        def decorate(function: _View) -> _View:
            @wraps(function)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                caller = _authenticate(credential, kwargs)
                rule(caller, kwargs)
                admit(caller)
                return function(*args, **kwargs)

            meanings = {"e401": UNAUTHENTICATED_WITH_CREDENTIAL.format(name=credential.name)} if credential else {}
            documented = self.errors(*codes, **meanings)(guarded)
            return self.doc(security=SECURITY)(documented)

        return decorate(view) if view is not None else decorate


def _roles(roles: tuple[str, ...]) -> tuple[str, ...]:
    """``roles``, each checked at import: a typo must not make a view admin-only unnoticed."""
    for role in roles:
        if not isinstance(role, str):
            raise TypeError("staff_only takes role names: write @blp.staff_only(OFFICER), not @blp.staff_only")
        check_role(role)
    return roles


def or_404(found: _Found | None, message: str = "Not found.") -> _Found:
    """``found``, or a 404 in the common error format when a query found nothing."""
    if found is None:
        abort(404, message=message)
    return found


def _authenticate(credential: Credential | None, view_kwargs: dict[str, Any]) -> Caller:
    """The caller of the request, or 401 (with ``WWW-Authenticate``) when its token opens nothing:
    none or a forged one, or (with ``errors.reason``) an expired or revoked one."""
    rt = runtime()
    try:
        caller = identify_request(request, rt.settings)
        if caller is None and credential is not None:
            caller = credential.read(view_kwargs)
        if caller is None:
            message = f"A valid bearer token or {credential.name} is required." if credential \
                else "A valid bearer token is required."
            abort(401, message=message, headers={"WWW-Authenticate": "Bearer"})
        check_with_facts(rt, caller.applicant_token())
    except AccessRefused as refused:
        abort(401, **refusal_body(refused))
    return caller

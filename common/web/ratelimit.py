"""A per-client-address rate limit on a view: ``429`` + ``Retry-After`` beyond it.

``@rate_limited(blp, "submit_rate_limit")`` puts the limit a :class:`~common.kernel.settings.Settings`
field holds (``LOANFLOW_SUBMIT_RATE_LIMIT`` → ``submit_rate_limit``; ``None`` is no limit) on a
view, and documents the ``429`` in its OpenAPI operation. The setting is named rather than given
as a value so that one decorator serves every limited view, each with its own variable (sign-in
can take ``@rate_limited(blp, "signin_rate_limit", scope="signin")``), read from the runtime's
settings at each request, like every other setting.

The count is shared by every worker, process and instance of the service: it lives in the
service's database (:mod:`common.database.ratelimits`, one upsert per request; a refused request
writes nothing). The client is :func:`common.web.client.client_address`: the peer, or the last
``X-Forwarded-For`` hop our gateway appended, never an address the client wrote itself.

Put it outside ``@blp.arguments`` so that it runs before the body is read: a client over its
limit is refused whatever it sent, and every attempt counts, valid or not (a flood of invalid
bodies is still a flood). On ``POST /loan/applications`` it sits inside the admission check
(``loan_app/admission.py``): at capacity the ``503`` comes first and counts nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from flask import request
from flask_smorest import abort
from flask_smorest.error_handler import ErrorSchema

from common.database.ratelimits import subject_of, take
from common.kernel.clock import utcnow
from common.kernel.rates import RateLimit
from common.kernel.settings import Settings
from common.web.blueprint import RETRY_AFTER_HEADER
from common.web.client import client_address
from common.web.context import runtime

if TYPE_CHECKING:
    from common.service.runtime import Runtime

#: The reason code of the 429's ``errors`` (docs/api.md).
REASON = "RATE_LIMITED"
#: The Settings fields a limit may come from (checked when a view is decorated, not at a request).
_SETTINGS = frozenset(field.name for field in fields(Settings))

_View = TypeVar("_View", bound=Callable[..., Any])


def retry_after(rt: Runtime, scope: str, limit: RateLimit) -> int | None:
    """Count the current request's client in ``scope`` of ``rt``'s service: ``None`` when within
    ``limit``, else the seconds to wait (the request was refused; nothing was written)."""
    subject = subject_of(client_address(request, rt.settings.trusted_proxies), rt.settings.secret_key)
    with rt.session_factory() as session, session.begin():
        return take(session, rt.definition.tables.rate_limits, scope, subject, limit, utcnow())


def rate_limited(blp: Any, setting: str, *, scope: str | None = None) -> Callable[[_View], _View]:
    """Decorate a view with the per-address limit of ``Settings.<setting>``, counted under
    ``scope`` (default: the setting's name), and document its ``429``.

    Raises:
      TypeError: ``setting`` is not a field of :class:`Settings` (at import, not at a request).
    """
    if setting not in _SETTINGS:
        raise TypeError(f"rate_limited: Settings has no field {setting!r}")
    counted_as = (scope or setting)[:32]  # the column's width

    def decorate(view: _View) -> _View:
        @wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            rt = runtime()
            limit: RateLimit | None = getattr(rt.settings, setting)
            if limit is not None and (wait := retry_after(rt, counted_as, limit)) is not None:
                abort(429, message=f"Too many requests from your address; try again in {wait} s.",
                      errors={"reason": REASON}, headers={"Retry-After": str(wait)})
            return view(*args, **kwargs)

        variable = f"LOANFLOW_{setting.upper()}"
        description = (f"Too many requests from this client address (the limit is {variable}); nothing was "
                       f"stored. Try again after Retry-After seconds; `errors.reason` is `{REASON}`.")
        return blp.alt_response(429, schema=ErrorSchema, description=description,  # type: ignore[no-any-return]
                                headers=RETRY_AFTER_HEADER)(limited)

    return decorate

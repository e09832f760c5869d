"""What a view may ask of the request it serves: its service's :class:`Runtime`, and its caller.

Both live on Flask's application and request contexts, put there once: the runtime by the app
factory (:func:`common.web.http.create_service_app`), the caller by the guard a view declares
(:class:`common.web.blueprint.Blueprint`). Views and guards read them here, never build them.
"""

from __future__ import annotations

from flask import current_app, g

from common.service.runtime import Runtime
from common.web.auth import Caller

#: Key of the service's runtime in ``app.extensions``.
RUNTIME_KEY = "loanflow.runtime"


def runtime() -> Runtime:
    """The :class:`Runtime` of the service handling the current request."""
    return current_app.extensions[RUNTIME_KEY]


def current_caller() -> Caller:
    """The caller the view's guard admitted (``@blp.staff_only``, ``@blp.applicant_or_staff``).

    Raises:
      RuntimeError: the view declared no guard, so nobody was identified.
    """
    caller = g.get("loanflow_caller")
    if caller is None:
        raise RuntimeError("current_caller() in a view without a guard")
    return caller


def admit(caller: Caller) -> None:
    """Record the caller a guard admitted, for :func:`current_caller`."""
    g.loanflow_caller = caller

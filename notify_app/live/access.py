"""Who may open a live channel, checked before anything is streamed.

Browsers cannot set headers on a WebSocket or an EventSource, so live endpoints also accept the
token as ``?token=``. Tokens never reach a log: access logs are off in our servers and
``common.logs`` scrubs ``token=`` from any line. A WebSocket from a foreign ``Origin`` is
refused at the handshake (cross-site WebSocket hijacking), as is one beyond the connection cap.
An application's stream (SSE or WebSocket) is opened under one rule, :func:`may_follow`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Request

from common.auth import Caller, bearer_token, identify
from common.runtime import Runtime
from notify_app.adapters.orm import Recipient


def caller_of(request: Request, rt: Runtime) -> Caller | None:
    """The caller of a live request: ``Authorization: Bearer`` or ``?token=``."""
    token = bearer_token(request) or request.args.get("token", "")
    return identify(token, staff_token=rt.settings.staff_token, secret_key=rt.settings.secret_key)


def may_follow(caller: Caller, application_id: str, recipient: Recipient | None) -> bool:
    """May ``caller`` open the live stream of an application (``recipient``: notify's row of it)?

    Its applicant, always: their token proves the application exists, and the stream waits for its
    first event. Staff, only for an application notify has heard of: a staff token names none, so
    an unknown id is a wrong id (or one submitted a moment ago), not a stream to hold open empty.
    """
    return caller.may_read(application_id) and (recipient is not None or not caller.staff)


def origin_allowed(request: Request, allowed: frozenset[str]) -> bool:
    """No Origin (not a browser), the same host, or a configured origin."""
    origin = request.headers.get("Origin")
    if not origin:
        return True
    if origin in allowed:
        return True
    forwarded = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
    host = urlsplit(origin).netloc
    return host in {request.host, forwarded}

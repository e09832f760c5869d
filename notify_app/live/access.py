"""Who may open a live channel, checked before anything is streamed.

Browsers cannot set headers on a WebSocket or an EventSource, so live endpoints take a live
ticket as ``?ticket=`` (short-lived, single use: :mod:`notify_app.live.tickets`), or the bearer
token from the ``Authorization`` header for clients that can send one; never the long-lived token
in the URL. An applicant's token, or the one behind their ticket, that expired or was revoked is
refused with its reason (:mod:`common.web.applicant_access`). A WebSocket from a foreign
``Origin`` is refused at the handshake (cross-site WebSocket hijacking), as is one beyond the
connection cap. An application's stream (SSE or WebSocket) is opened under one rule,
:func:`may_follow`, and counts against the caps of its token and of its client address
(:func:`cap_keys`).
"""

from __future__ import annotations

import select
import socket
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Request

from common.service.runtime import Runtime
from common.web.applicant_access import check_with_facts
from common.web.auth import Caller, identify_request
from common.web.client import client_address
from notify_app.adapters.orm import Recipient
from notify_app.live import tickets


def ticket_caller(request: Request, rt: Runtime) -> Caller | None:
    """The caller of the request's ``?ticket=`` (spending it), ``None`` without one.

    Raises:
      AccessRefused: the ticket is forged, expired or used.
    """
    ticket = request.args.get("ticket", "")
    if not ticket:
        return None
    return tickets.redeem(rt.settings.secret_key, ticket, timedelta(seconds=rt.settings.live_ticket_seconds),
                          rt.session_factory)


def caller_of(request: Request, rt: Runtime) -> Caller | None:
    """The caller of a live request (``Authorization: Bearer``, else ``?ticket=``), or ``None``.

    Raises:
      AccessRefused: a ticket forged, expired or used, or an applicant token expired or revoked.
    """
    caller = identify_request(request, rt.settings) or ticket_caller(request, rt)
    if caller is not None:
        check_with_facts(rt, caller.applicant_token())
    return caller


def last_event_id(request: Request) -> int:
    """Where a reconnecting client resumes: ``Last-Event-ID`` or ``?last_event_id=`` (0: from the start)."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or "0"
    return int(raw) if raw.isdigit() and len(raw) < 18 else 0


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


def cap_keys(request: Request, caller: Caller, trusted_proxies: Collection[str]) -> dict[str, str | None]:
    """What a stream of ``caller`` counts against: ``token`` (an applicant's token opens exactly one
    application, so its id stands for it; a staff member's tokens, their username) and
    ``address`` (:func:`common.web.client.client_address`: one a client cannot choose)."""
    return {"token": f"staff:{caller.username}" if caller.staff else caller.application_id,
            "address": client_address(request, trusted_proxies)}


def peer_gone(environ: dict[str, Any]) -> Callable[[], bool]:
    """A probe: has the client of this SSE request closed its connection?

    An SSE client sends nothing after its request, so a readable socket that yields no bytes is
    its end of file. Without it a stream whose client left holds its slot until a heartbeat fails
    to reach it (one, sometimes two, heartbeats later). Servers other than gunicorn: never gone.

    Readability is asked of ``poll`` first (any descriptor number, unlike ``select``): under
    gevent the socket is gevent's, whose ``recv`` waits for data even with ``MSG_DONTWAIT``, and
    the stream would hang in its probe; a readable socket's ``recv`` returns at once either way.
    """
    sock = environ.get("gunicorn.socket")
    if not isinstance(sock, socket.socket):
        return lambda: False

    def gone() -> bool:
        try:
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            if not poller.poll(0):
                return False
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    return gone

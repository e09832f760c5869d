"""Security headers on every response of every service (and of the gateway's own answers).

- ``Content-Security-Policy``: HTML pages (the dashboards, the applicant's page, Swagger UI) may
  load scripts, styles, images and connections from their own origin only — no inline script,
  inline style or ``eval``, so a value the server echoes into a page can never run as code —
  and no page may be framed (``frame-ancestors 'none'``: clickjacking). Everything else (JSON,
  streams, documents) gets ``default-src 'none'``: a response that is not a page loads nothing,
  even if a browser is tricked into rendering it.
- ``X-Content-Type-Options: nosniff``: a browser trusts the declared type (a JSON answer
  carrying an applicant's name is never sniffed into HTML or script).
- ``Referrer-Policy: no-referrer``: the applicant's page carries its application id in its URL;
  no link or request of a page tells another site where it came from.
- ``X-Frame-Options: DENY``: ``frame-ancestors`` for browsers older than CSP 2.

Set only where a response has not set them itself (``setdefault``), so a view may narrow them.
The gateway and the embedded mode's dispatcher add the same to the answers they make themselves
(``/health``, their ``404``), so every response through the public entry has them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the gateway (aiohttp) uses security_headers() without loading Flask
    from flask import Flask, Response

#: The policy of an HTML page: its own origin only, nothing inline. ``data:`` images are the
#: favicon placeholder and Swagger UI's icons (in its stylesheet); ``connect-src 'self'`` covers
#: the pages' fetches, EventSource and same-origin WebSocket.
PAGE_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'",
    "frame-ancestors 'none'",
))
#: The policy of any other response: it loads nothing and is framed nowhere.
API_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
#: The headers every response carries, whatever its type.
COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


def security_headers(content_type: str) -> Mapping[str, str]:
    """The security headers of a response of ``content_type`` (e.g. ``text/html; charset=utf-8``)."""
    page = content_type.split(";", 1)[0].strip().lower() == "text/html"
    return {**COMMON_HEADERS, "Content-Security-Policy": PAGE_POLICY if page else API_POLICY}


def install_security_headers(app: Flask) -> None:
    """Add :func:`security_headers` to every response of ``app`` that lacks them."""

    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in security_headers(response.content_type or "").items():
            response.headers.setdefault(name, value)
        return response

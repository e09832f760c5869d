"""JSON for the errors gunicorn answers itself, before any Flask code runs.

A request line or header block over gunicorn's limits (``414 URI Too Long``, ``431``), or a
request gunicorn cannot parse (``400``), is answered by gunicorn with an HTML page. Every other
answer of a loanflow service is JSON with ``{code, status, message}`` (the documented ``default``
response), and clients, fuzzers included, rely on that: an HTML page there is an undocumented
content type. gunicorn writes those pages with one function, ``gunicorn.util.write_error``,
looked up at each call; :func:`install` replaces it in the worker process with one that writes
the same status and message as JSON, with the security headers of every other answer.

The limits themselves are part of the API (:data:`LIMITS`): a request line up to 8190 bytes,
gunicorn's largest and the gateway's (aiohttp's) own, so that a URL the gateway forwards is one
the service reads.
"""

from __future__ import annotations

import json
import socket

from gunicorn import util

from common.web.security_headers import security_headers

#: gunicorn settings that bound a request before the application sees it.
LIMITS: dict[str, int] = {"limit_request_line": 8190, "limit_request_fields": 100,
                          "limit_request_field_size": 8190}


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``write_error`` signature, answering ``{code, status, message}`` as JSON."""
    body = json.dumps({"code": status_int, "status": reason, "message": mesg or reason}).encode()
    secure = "".join(f"{name}: {value}\r\n" for name, value in security_headers("application/json").items())
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"{secure}Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)


def install() -> None:
    """Make gunicorn's own error answers JSON in this process (idempotent)."""
    util.write_error = write_json_error

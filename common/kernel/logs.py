"""Structured JSON logs, with no personal data and no tokens in them.

Two leaks are closed here rather than at every call site:

- Dramatiq logs a failing message with its arguments (``actor(args…)``), and our messages carry
  applicant data. :class:`RedactMessages` rewrites those records to the message id and actor.
- No long-lived token travels in a URL any more (live channels take single-use tickets,
  documents signed links, pages read the token from the fragment), but a client may still put
  one there, and a ticket or link is a credential for its few seconds or minutes:
  :func:`scrub` removes ``token=…``, ``ticket=…`` and ``link=…`` from any logged text.
- A database error quotes the row it refused (``DETAIL: Failing row contains (…)``): the
  formatter hides those values in every logged traceback (:class:`JsonLines`).
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from common.kernel.privacy import hide_statement_values

_TOKEN = re.compile(r"((?:token|ticket|link)=)[^&\s\"']+", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._\-]+")
_configured = False

#: The correlation id (= application id) of the work this thread is doing, added to every line.
CORRELATION_ID: ContextVar[str | None] = ContextVar("correlation_id", default=None)


@contextlib.contextmanager
def correlated(correlation_id: str | None) -> Iterator[None]:
    """Tag every log line written inside the block with ``correlation_id``."""
    token = CORRELATION_ID.set(correlation_id)
    try:
        yield
    finally:
        CORRELATION_ID.reset(token)


class AddCorrelation(logging.Filter):
    """Put the current correlation id on the record (the JSON formatter then writes it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        correlation_id = CORRELATION_ID.get()
        if correlation_id and not hasattr(record, "correlation_id"):
            record.correlation_id = correlation_id
        return True


def scrub(text: str) -> str:
    """``text`` without token values."""
    return _BEARER.sub(r"\1[redacted]", _TOKEN.sub(r"\1[redacted]", text))


class RedactMessages(logging.Filter):
    """Replace Dramatiq message objects in log arguments by ``actor_name(message_id)``; hide
    tokens and the values database errors quote in the message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(_describe(arg) for arg in args)
        if isinstance(record.msg, str):
            record.msg = _describe(record.msg)
        return True


def _describe(arg: Any) -> Any:
    if hasattr(arg, "actor_name") and hasattr(arg, "message_id"):
        return f"{arg.actor_name}({arg.message_id})"
    if isinstance(arg, BaseException):  # "… %s", error: a database error quotes its row
        return scrub(hide_statement_values(str(arg)))
    if isinstance(arg, str) and any(word in arg.lower() for word in ("token=", "ticket=", "link=", "bearer ")):
        arg = scrub(arg)
    if isinstance(arg, str) and ("DETAIL:" in arg or "[parameters:" in arg):
        arg = hide_statement_values(arg)
    return arg


class JsonLines(JsonFormatter):
    """JSON log lines whose tracebacks carry no statement values (nor tokens)."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        return scrub(hide_statement_values(super().formatException(ei)))


#: Libraries whose DEBUG and INFO lines are about their own machinery (frames, mappers, pools):
#: they log from WARNING when loanflow's level is DEBUG.
_LIBRARIES = ("pika", "urllib3", "dramatiq", "sqlalchemy", "asyncio", "aiohttp", "alembic", "fontTools",
              "PIL", "gunicorn", "werkzeug", "aiosmtpd", "mail.log", "psycopg", "requests", "prometheus_client")


def configure_logging(service: str, level: str = "INFO") -> None:
    """JSON lines on stderr with the service name, from ``level`` up (``Settings.log_level``); idempotent.

    ``DEBUG`` is loanflow's own (a line per message applied, per relay batch…): the libraries in
    :data:`_LIBRARIES` log from ``WARNING`` then, or their wire-level chatter would bury it.
    """
    global _configured
    if _configured:
        return
    _configured = True
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonLines(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    )
    handler.addFilter(RedactMessages())
    handler.addFilter(AddCorrelation())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    if root.level < logging.INFO:
        for library in _LIBRARIES:
            logging.getLogger(library).setLevel(logging.WARNING)
    logging.getLogger("pika").setLevel(logging.WARNING)

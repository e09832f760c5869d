"""Masking personal data wherever message contents are shown to operators or written to logs."""

from __future__ import annotations

import re
from typing import Any

#: Keys whose values identify a person; shown as ``"***"`` in operator views.
#: ``note``: what officers write about a case in a review (loan_app/domain/review.py) is free text
#: that may name people or their circumstances: erased and masked like a name.
PERSONAL_KEYS = frozenset({"full_name", "email", "birth_date", "address", "access_token", "token", "note"})

#: What PostgreSQL and SQLAlchemy quote of a statement's values in an error text: PostgreSQL's
#: ``DETAIL:`` line (``Failing row contains (…)``, ``Key (email)=(…) already exists``) and
#: SQLAlchemy's ``[parameters: …]`` line (engines run with ``hide_parameters=True``; this also
#: covers an engine made elsewhere without it).
_STATEMENT_VALUES = re.compile(r"^(\s*)(DETAIL:|\[parameters:).*$", re.MULTILINE)


def mask(value: Any) -> Any:
    """A copy of ``value`` with every personal field replaced by ``"***"``, at any depth."""
    if isinstance(value, dict):
        return {key: "***" if key in PERSONAL_KEYS else mask(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask(item) for item in value]
    return value


def hide_statement_values(text: str) -> str:
    """``text`` (an error message or a traceback) without the values a database error quotes.

    Why: an error is stored in ``task_attempts``/``dead_letters``, shown on ``/tasks`` and
    logged, and the values of the statement that failed are an applicant's name, e-mail and
    birth date. The error's kind, constraint and SQL (with placeholders) stay: they are what an
    operator needs.
    """
    return _STATEMENT_VALUES.sub(_hidden, text)


def _hidden(match: re.Match[str]) -> str:
    label = "DETAIL: [hidden" if match.group(2) == "DETAIL:" else "[parameters hidden"
    return f"{match.group(1)}{label}: may contain personal data]"


#: What an erased error text or traceback says instead (``common.messaging.erasure``).
ERASED_TEXT = "[erased with the application's personal data]"


def erase(value: Any) -> Any:
    """A copy of ``value`` with every personal field set to ``None``, at any depth.

    Unlike :func:`mask` (what an operator is shown) this is what is *stored* once an
    application's personal data is erased: ``None`` is what every consumer already treats as
    "not known", where ``"***"`` would pass for a name or an address.
    """
    if isinstance(value, dict):
        return {key: None if key in PERSONAL_KEYS else erase(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [erase(item) for item in value]
    return value


def erase_error(text: str | None) -> str | None:
    """An error text reduced to its kind (``MailerRejected: …`` → ``MailerRejected: [erased …]``).

    Why not keep the message: errors quote what they failed on (a refused recipient's address, a
    bureau's answer about a name), and no rule can tell which words are personal. The kind is
    what statistics of failures need.
    """
    if text is None:
        return None
    kind, separator, _ = text.partition(":")
    return f"{kind}: {ERASED_TEXT}" if separator and kind.isidentifier() else ERASED_TEXT

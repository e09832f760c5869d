"""The applicant's e-mails rendered from their Jinja2 templates (what they say: ``notify_app.domain.emails``).

Wording lives in templates (``notify_app/templates/email/<language>/<status>.{txt,html}``) so it
can be reviewed and translated without touching code; this module loads them from disk and
renders an :class:`~notify_app.domain.emails.EmailContent` into a subject, a text and an HTML part.

HTML templates autoescape: the applicant's name and the reasons are data, and a name such as
``<script>`` must reach the inbox as text. The subject is the ``subject`` block of the text
template, so each status keeps its whole wording in one pair of files. A language other than
English words reasons and requested items itself in ``<language>/reasons.txt``, one macro per
code, applied to the figures the reason states; a code it does not know yet is shown in the
English the service sent, so a new reason never breaks an e-mail. An officers' decision
(``PERSONS_WORDS``) is shown as the officers wrote it, whatever the language.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateNotFound, select_autoescape
from jinja2.exceptions import UndefinedError
from jinja2.runtime import Macro

from notify_app.domain.emails import PERSONS_WORDS, EmailContent, Reason, email_content
from notify_app.domain.formatting import format_money, format_ratio

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
    undefined=StrictUndefined,  # a misspelt variable fails the tests instead of printing nothing
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENV.filters["money"] = lambda value, language: format_money(Decimal(str(value)), language)
_ENV.filters["ratio"] = lambda value, language: format_ratio(Decimal(str(value)), language)


@dataclass(frozen=True)
class ComposedEmail:
    subject: str
    text: str
    html: str


def compose(status: str, language: str, context: dict[str, Any]) -> ComposedEmail:
    """The e-mail for ``status`` in ``language``: :func:`~notify_app.domain.emails.email_content`, rendered.

    Raises:
      ValueError: no e-mail for this status, or an approval without an offer.
    """
    return render(email_content(status, language, context))


def render(content: EmailContent) -> ComposedEmail:
    """Subject, text and HTML of ``content`` from its status's pair of templates."""
    values = {
        "full_name": content.full_name, "application_id": content.application_id,
        "status_url": content.status_url, "offer": content.offer, "deadline": content.deadline,
        "reasons": [worded(item, content.language) for item in content.reasons],
        "requested_information": [worded(item, content.language) for item in content.requested_information],
        "access_token": content.access_token,
        "review_due": content.review_due, "decided_by_officers": content.decided_by_officers,
    }
    stem = f"{content.language}/{content.status.lower()}"
    text_template = _ENV.get_template(f"{stem}.txt")
    subject = _subject(text_template, values)
    html = _ENV.get_template(f"{stem}.html").render(values, subject=subject)
    return ComposedEmail(subject=subject, text=text_template.render(values), html=html)


def _subject(template: Template, values: dict[str, Any]) -> str:
    """The ``subject`` block on one line (a header can hold no line break)."""
    rendered = "".join(template.blocks["subject"](template.new_context(values)))
    return " ".join(rendered.split())


def worded(item: Reason, language: str) -> str:
    """A reason (or requested item) in ``language``: its macro in ``<language>/reasons.txt``
    applied to its figures, else the English text the service published (else the code)."""
    if item.code in PERSONS_WORDS:
        return item.fallback  # the officers' sentence, as they wrote it
    macro = getattr(_reasons_module(language), item.code, None) if item.code else None
    if not isinstance(macro, Macro):  # also refuses a code such as "__class__"
        return item.fallback
    try:
        text = str(macro(dict(item.params)))
    except (UndefinedError, ArithmeticError, ValueError, TypeError):
        return item.fallback  # a figure missing or unreadable: the service's own words are still right
    return text.strip() or item.fallback  # (not split(): it would also break the no-break spaces)


def _reasons_module(language: str) -> Any:
    """The macros of ``<language>/reasons.txt`` (None for a language that has none, e.g. English)."""
    try:
        return _ENV.get_template(f"{language}/reasons.txt").module
    except TemplateNotFound:
        return None

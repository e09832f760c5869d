"""The e-mail an applicant receives when an application changes status, in English or French.

Wording lives in Jinja2 templates (``notify_app/templates/email/<language>/<status>.{txt,html}``)
so it can be reviewed and translated without touching code; this module only chooses the
template and turns the event's raw figures into display strings (the same money formatting as
the schedule documents, so an e-mail and its attachment always print a figure the same way).

Every message has a plain-text part and an HTML part. HTML templates autoescape: the applicant's
name and the reasons are data, and a name such as ``<script>`` must reach the inbox as text.
The subject is the ``subject`` block of the text template, so each status keeps its whole wording
in one pair of files.

Reasons and requested information arrive worded in English by the service that gave them, with
a stable code (an item's name) and, for rejections, the figures they state (``params``). A
language other than English words them itself in ``<language>/reasons.txt``, one macro per code,
from the code and the figures, rather than machine-translating a sentence; a code it does not know
yet is shown in the English the service sent, so a new reason never breaks an e-mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateNotFound, select_autoescape
from jinja2.exceptions import UndefinedError
from jinja2.runtime import Macro

from lending.amortization import Offer
from notify_app.domain.schedule import NBSP, format_duration, format_money, format_rate, language_of

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"

EMAIL_STATUSES: frozenset[str] = frozenset({"APPROVED", "REJECTED", "INFO_REQUESTED", "FAILED", "EXPIRED",
                                            "WITHDRAWN"})

MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
}

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
    """The e-mail for ``status`` in ``language`` (anything but ``"fr"`` gives English).

    ``context``: ``full_name``, ``application_id``, ``status_url``, ``offer`` (the published dict
    or None), ``reasons`` ([{code, message}]), ``requested_information`` ([{name, description,
    type}]), ``deadline`` (ISO string or None).

    Raises:
      ValueError: no e-mail for this status, or an approval without an offer.
    """
    if status not in EMAIL_STATUSES:
        raise ValueError(f"no e-mail template for status {status!r}")
    language = language_of(language)
    values = _template_values(status, language, context)
    text_template = _ENV.get_template(f"{language}/{status.lower()}.txt")
    subject = _subject(text_template, values)
    html = _ENV.get_template(f"{language}/{status.lower()}.html").render(values, subject=subject)
    return ComposedEmail(subject=subject, text=text_template.render(values), html=html)


def _subject(template: Template, values: dict[str, Any]) -> str:
    """The ``subject`` block on one line (a header can hold no line break)."""
    rendered = "".join(template.blocks["subject"](template.new_context(values)))
    return " ".join(rendered.split())


def _template_values(status: str, language: str, context: dict[str, Any]) -> dict[str, Any]:
    offer = context.get("offer")
    if status == "APPROVED" and not offer:
        raise ValueError("an APPROVED e-mail needs the offer")
    return {
        "full_name": str(context.get("full_name") or ""),
        "application_id": str(context.get("application_id") or ""),
        "status_url": str(context.get("status_url") or ""),
        "offer": offer_figures(offer, language) if offer else None,
        "reasons": [worded(reason.get("code"), reason.get("params"), reason.get("message"), language)
                    for reason in context.get("reasons") or []],
        "requested_information": [worded(item.get("name"), None, item.get("description"), language)
                                  for item in context.get("requested_information") or []],
        "deadline": format_deadline(context.get("deadline"), language),
    }


def worded(code: Any, params: Any, english: Any, language: str) -> str:
    """A reason (or requested item) in ``language``: its macro in ``<language>/reasons.txt``
    applied to ``params``, else the ``english`` text the service published (else the code)."""
    fallback = str(english or code or "")
    macro = getattr(_reasons_module(language), str(code), None) if code else None
    if not isinstance(macro, Macro):  # also refuses a code such as "__class__"
        return fallback
    try:
        text = str(macro(dict(params) if isinstance(params, dict) else {}))
    except (UndefinedError, ArithmeticError, ValueError, TypeError):
        return fallback  # a figure missing or unreadable: the service's own words are still right
    return text.strip() or fallback  # (not split(): it would also break the no-break spaces)


def _reasons_module(language: str) -> Any:
    """The macros of ``<language>/reasons.txt`` (None for a language that has none, e.g. English)."""
    try:
        return _ENV.get_template(f"{language}/reasons.txt").module
    except TemplateNotFound:
        return None


def format_ratio(ratio: Decimal, language: str) -> str:
    """A fraction as a percentage to one decimal, whole numbers bare: ``0.4123`` → ``"41.2 %"`` / ``"41,2 %"``."""
    text = str((ratio * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)).removesuffix(".0")
    if language_of(language) == "fr":
        text = text.replace(".", ",")
    return f"{text}{NBSP}%"


def offer_figures(offer: dict[str, Any], language: str) -> dict[str, str]:
    """The offer's figures as display strings (``amount``, ``annual_rate``, ``duration``, …)."""
    terms = Offer.from_dict(offer)
    return {
        "amount": format_money(terms.amount, language),
        "annual_rate": format_rate(terms.annual_rate, language),
        "duration": format_duration(terms.duration_months, language),
        "monthly_payment": format_money(terms.monthly_payment, language),
        "monthly_insurance": format_money(terms.monthly_insurance, language),
        "total_interest": format_money(terms.total_interest, language),
        "total_cost": format_money(terms.total_cost, language),
    }


def format_deadline(deadline: str | None, language: str) -> str | None:
    """``"15 March 2027, 14:30 UTC"`` / ``"15 mars 2027 à 14:30 UTC"``; a bare date has no time.

    Shown in UTC (an offset-less time is taken as UTC): the applicant's time zone is unknown, and
    a stated zone is better than a silently wrong hour. An unreadable value is shown as it came.
    """
    if not deadline:
        return None
    language = language_of(language)
    try:
        if "T" not in deadline:
            return _long_date(date.fromisoformat(deadline), language)
        moment = datetime.fromisoformat(deadline)
    except ValueError:
        return deadline
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    joiner = " à " if language == "fr" else ", "
    return f"{_long_date(moment.date(), language)}{joiner}{moment:%H:%M} UTC"


def _long_date(day: date, language: str) -> str:
    return f"{day.day} {MONTHS[language][day.month - 1]} {day.year}"

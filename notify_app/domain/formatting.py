"""How a figure, a date or a duration is printed to an applicant, in English or French.

One module for the schedule documents and the e-mails alike, so that an e-mail and its attached
schedule always print the same figure the same way (``200 000,00 €`` in both, never ``200000.00``
in one of them). Pure functions of their inputs: no locale of the machine is consulted, so every
worker prints the same text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

from lending.amortization import CENT, to_cents

#: The languages with their own wording; any other language tag gets English.
LANGUAGES = ("en", "fr")
#: Between thousands and before the unit, so "200 000,00 €" never wraps.
NBSP = "\u00a0"

_FRENCH_FIGURES = str.maketrans({",": NBSP, ".": ","})

#: Singular and plural of the units of a duration.
UNITS = {
    "en": {"months": ("month", "months"), "years": ("year", "years")},
    "fr": {"months": ("mois", "mois"), "years": ("an", "ans")},
}

MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
}


def language_of(language: str | None) -> str:
    """``"en"`` or ``"fr"`` from a language tag (``"fr-FR"`` → ``"fr"``); anything else → ``"en"``."""
    code = (language or "").replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else "en"


def format_money(amount: Decimal, language: str) -> str:
    """``"200,000.00 €"`` (en) or ``"200 000,00 €"`` (fr), rounded half-up to the cent."""
    return money_formatter(language)(amount)


def money_formatter(language: str) -> Callable[[Decimal], str]:
    """:func:`format_money` in one language, resolved once (a schedule prints 1,200 figures)."""
    french = language_of(language) == "fr"

    def money(amount: Decimal) -> str:
        text = f"{to_cents(Decimal(amount)):,.2f}"
        return f"{text.translate(_FRENCH_FIGURES) if french else text}{NBSP}€"

    return money


def format_rate(annual_rate: Decimal, language: str) -> str:
    """A fraction as a percentage with at least two decimals: ``0.0355`` → ``"3.55%"`` / ``"3,55 %"``."""
    percent = (Decimal(annual_rate) * 100).normalize()
    if int(percent.as_tuple().exponent) > -2:
        percent = percent.quantize(CENT)
    if language_of(language) == "fr":
        return f"{percent:f}".replace(".", ",") + f"{NBSP}%"
    return f"{percent:f}%"


def format_ratio(ratio: Decimal, language: str) -> str:
    """A fraction as a percentage to one decimal, whole numbers bare: ``0.4123`` → ``"41.2 %"`` / ``"41,2 %"``."""
    text = str((ratio * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)).removesuffix(".0")
    if language_of(language) == "fr":
        text = text.replace(".", ",")
    return f"{text}{NBSP}%"


def format_duration(months: int, language: str) -> str:
    """``"240 months (20 years)"`` / ``"240 mois (20 ans)"``; years only for whole years."""
    units = UNITS[language_of(language)]
    text = f"{months} {units['months'][months != 1]}"
    years, rest = divmod(months, 12)
    if years and not rest:
        text += f" ({years} {units['years'][years != 1]})"
    return text


def format_date(day: date, language: str) -> str:
    """ISO ``2027-01-05`` in English (no dd/mm vs mm/dd ambiguity), ``05/01/2027`` in French."""
    return day.strftime("%d/%m/%Y") if language_of(language) == "fr" else day.isoformat()


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

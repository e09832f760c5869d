"""The input fields of ``/loan/applications`` that marshmallow has no ready-made type for.

Amounts are refused, not rounded, beyond the cent (:class:`TwoPlaces`); one-line free text is
refused when it carries characters that only serve to hide or reorder what a reader sees
(:func:`one_line_text`); a birth date must be an adult's, and its OpenAPI pattern says which
(:func:`birth_years_pattern`). Each documents in OpenAPI exactly what it accepts.
"""

from __future__ import annotations

import calendar
import math
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from loan_app.domain.information import CENT, decimal_places

#: Bounds that keep amounts meaningful; beyond them an application is an input error, not a risk.
MAX_MONEY = 100_000_000


#: Characters refused in names and addresses: C0/C1 controls (NUL, tabs, newlines, escapes: these
#: fields are one line), the bidirectional embeddings, overrides and isolates that make text
#: display in another order than it is stored ("Trojan Source"), and invisible characters that
#: belong to no script's spelling (zero-width space, word joiner, BOM). ZWJ/ZWNJ and the LRM/RLM
#: marks stay allowed: Persian, Indic scripts and mixed-direction names need them.
_HIDDEN = r"\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200b\u2060\ufeff"
_HIDDEN_CHARACTERS = re.compile(f"[{_HIDDEN}]")
#: The same rule, and "not blank", as the OpenAPI ``pattern`` of those fields (the escapes mean
#: the same in Python and ECMAScript regular expressions), so clients can check before sending.
_ONE_LINE_VISIBLE = f"^[^{_HIDDEN}]*[^{_HIDDEN}\\s][^{_HIDDEN}]*$"


class TwoPlaces(fields.Decimal):
    """A decimal with at most two places (euros to the cent, m²), as a JSON number or a string.

    More than two decimal places is refused rather than rounded: 1234.567 is a typo or a unit
    mistake, and rounding it would store an amount nobody entered. ``-0`` is stored as ``0.00``.
    Numbers too large to hold to the cent are left for the range check, which names the bound.

    One exception: a JSON *number* that is a cent amount up to binary floating-point noise
    (``0.1 + 0.2`` is ``0.30000000000000004`` in JavaScript, ``57 * 0.01`` is
    ``0.5700000000000001``) is read as that cent amount — the client meant it and cannot write it
    otherwise; a string is taken literally. Documented as ``multipleOf: 0.01``.
    """

    default_error_messages = {"places": "At most two decimal places."}

    def _within_documented_bounds(self, exact: Decimal) -> None:
        """The field's ``Range`` checked on the number as sent, before float noise is rounded off.

        ``10000.000000000002`` is float noise of ``10000.00``, but it is above a documented
        ``maximum: 10000``: a client validating against our OpenAPI document refuses it, so the
        server must too (schemathesis' negative cases found it). Rounding first let it through.
        """
        for validator in self.validators:
            if isinstance(validator, validate.Range):
                validator(exact)

    def __init__(self, *, metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        documented = {"type": "number", "multipleOf": 0.01,
                      "description": "A number, or a decimal string; at most two decimals."}
        super().__init__(as_string=True, metadata=documented | (metadata or {}), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        number: Decimal = super()._deserialize(value, attr, data, **kwargs)
        # Float noise of a cent amount is let through and rounded to that cent just below.
        if decimal_places(number) > 2 and not (isinstance(value, float) and _float_noise_of_a_cent(value, number)):
            raise self.make_error("places")
        self._within_documented_bounds(number)
        try:
            number = number.quantize(CENT)
        except InvalidOperation:
            return number
        return number.copy_abs() if number.is_zero() else number


#: How far, relatively, a JSON number may sit from a cent amount and still be read as it: a few
#: units in the last place of a double (~1e-16), far below any digit a person types.
FLOAT_NOISE = 1e-12


def _float_noise_of_a_cent(value: float, number: Decimal) -> bool:
    try:
        cents = number.quantize(CENT)
    except InvalidOperation:  # too many digits to hold to the cent: left for the range check
        return False
    return not cents.is_zero() and math.isclose(value, float(cents), rel_tol=FLOAT_NOISE, abs_tol=0.0)


def money(**kwargs: Any) -> TwoPlaces:
    """An amount in euros from 0 to :data:`MAX_MONEY`, to the cent."""
    return TwoPlaces(validate=validate.Range(min=0, max=MAX_MONEY), **kwargs)


def positive_money(**kwargs: Any) -> TwoPlaces:
    """An amount in euros from one cent to :data:`MAX_MONEY`."""
    # To the cent, "more than 0" is "at least 0.01": stated so, a client (or a fuzzer) reading the
    # document does not take 5e-324 for a valid price.
    return TwoPlaces(validate=validate.Range(min=CENT, max=MAX_MONEY), **kwargs)


def one_line_text(max_length: int) -> fields.String:
    """A required one-line text, not blank, with no hidden or reordering characters."""
    return fields.String(required=True, validate=[validate.Length(min=1, max=max_length), _not_blank, _visible],
                         metadata={"pattern": _ONE_LINE_VISIBLE})


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("Must not be blank.")


def optional_visible_text(max_length: int) -> fields.String:
    """An optional one-line text (empty by default) with no hidden or reordering characters."""
    return fields.String(load_default="", validate=[validate.Length(max=max_length), _visible],
                         metadata={"pattern": f"^[^{_HIDDEN}]*$"})


def _visible(value: str) -> None:
    if _HIDDEN_CHARACTERS.search(value):
        raise ma.ValidationError("Must not contain control characters, direction overrides or invisible spaces.")


def birth_years_pattern(today: date) -> str:
    """An OpenAPI ``pattern`` matching exactly the calendar dates of the years in which
    :func:`adult_birth_date` refuses no day (1907 to 2007, in 2026).

    JSON Schema cannot bound a date; without a pattern the document called 0154-05-01 valid. The
    pattern spells whole dates, month lengths and leap days included, rather than a year prefix:
    a fuzzer that draws from a prefix pattern appends random text that is almost never a date,
    and gives up on the operation as "too much filtered". A day in the edge years may still be
    accepted: the pattern is narrower than the rule, never wider.
    """
    first, last = today.year - 119, today.year - 19
    decades = []
    for decade in range(first // 10, last // 10 + 1):
        low, high = max(first, decade * 10) % 10, min(last, decade * 10 + 9) % 10
        decades.append(f"{decade}[0-9]" if (low, high) == (0, 9) else f"{decade}[{low}-{high}]")
    leap = [str(year) for year in range(first, last + 1) if calendar.isleap(year)]
    days = ("(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
            "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
            "|02-(?:0[1-9]|1[0-9]|2[0-8])")
    return f"^(?:(?:{'|'.join(decades)})-(?:{days})|(?:{'|'.join(leap)})-02-29)$"


def adult_birth_date(value: date) -> None:
    """Validator: the applicant is 18 to 120 years old today."""
    today = date.today()
    age = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
    if value > today:
        raise ma.ValidationError("Birth date is in the future.")
    if age < 18:
        raise ma.ValidationError("The applicant must be at least 18 years old.")
    if age > 120:
        raise ma.ValidationError("Birth date is implausibly old.")

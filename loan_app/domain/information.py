"""Checking an applicant's answers against what the application asked for.

loan_app does not know why an item was requested (that is decision_app's policy); it only knows
each item's name and type, which is enough to refuse an incomplete or ill-typed answer with a
message per field before the evaluation resumes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_ANSWER_LENGTH = 500
CENT = Decimal("0.01")


def check_answers(requested: Sequence[Mapping[str, Any]], answers: Mapping[str, Any]) -> tuple[dict[str, str],
                                                                                              dict[str, list[str]]]:
    """Normalise ``answers``; returns ``(clean answers, errors by field)``."""
    wanted = {item["name"]: item.get("type", "string") for item in requested}
    clean: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for name in answers:
        if name not in wanted:
            errors[str(name)] = ["This information was not requested."]
    for name, kind in wanted.items():
        if name not in answers:
            errors[name] = ["Missing data for required field."]
            continue
        value = answers[name]
        if kind == "decimal":
            number = _decimal(value)
            if number is None or number < 0 or number > Decimal("100000000"):
                errors[name] = ["Must be a non-negative amount in euros."]
                continue
            if decimal_places(number) > 2:
                errors[name] = ["At most two decimal places."]
                continue
            clean[name] = str(abs(number).quantize(CENT))  # abs: -0 is stored as 0.00
        else:
            text = str(value).strip()
            if not text or len(text) > MAX_ANSWER_LENGTH:
                errors[name] = [f"Must be 1 to {MAX_ANSWER_LENGTH} characters."]
                continue
            clean[name] = text
    return clean, errors


def decimal_places(number: Decimal) -> int:
    """Significant decimal places of a finite ``number`` (``1.230`` has 2), without rounding.

    Amounts with more than two are refused, never rounded, here and in the application's own
    fields: rounding would store an amount nobody entered or declared.
    """
    _, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0 or number.is_zero():
        return 0
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -exponent - trailing_zeros)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None

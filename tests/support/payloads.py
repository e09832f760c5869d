"""Application bodies for tests: one valid baseline, and helpers to vary it."""

from __future__ import annotations

import copy
from typing import Any

BASE: dict[str, Any] = {
    "applicant": {
        "full_name": "Alice Propre",
        "email": "alice@example.org",
        "birth_date": "1992-04-15",
        "employment_status": "permanent",
        "monthly_income": "5200.00",
        "monthly_debts": "0.00",
    },
    "property": {
        "address": "12 rue de la République",
        "postcode": "69002",
        "city": "Lyon",
        "kind": "apartment",
        "surface_m2": "75",
        "price": "340000",
    },
    "loan": {"amount": "200000", "duration_months": 240},
}


def application(**changes: dict[str, Any]) -> dict[str, Any]:
    """The baseline with ``applicant=…``, ``property=…`` or ``loan=…`` fields replaced."""
    body = copy.deepcopy(BASE)
    for section, fields in changes.items():
        body[section].update(fields)
    return body

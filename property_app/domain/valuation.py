"""Valuing a property: reference price per m² (by city, else by département) × surface, adjusted.

A location with no reference price cannot be valued: :class:`ValuationUnavailable`, a business
outcome that the saga turns into ``FAILED`` with reason ``VALUATION_UNAVAILABLE``.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from lending.amortization import to_cents, to_ratio

PRICES_FILE = Path(__file__).with_name("reference_prices.csv")


class ValuationUnavailable(Exception):
    """No reference price for this location."""

    code = "VALUATION_UNAVAILABLE"


@dataclass(frozen=True)
class Adjustment:
    name: str
    factor: Decimal
    explanation: str


@dataclass(frozen=True)
class Valuation:
    estimated_value: Decimal
    price_per_m2: Decimal
    reference: str
    adjustments: tuple[Adjustment, ...]
    loan_to_value: Decimal


@dataclass(frozen=True)
class AdjustmentConfig:
    """Surface adjustments: small units sell dearer per m², very large ones cheaper."""

    small_below_m2: Decimal = Decimal("30")
    small_premium: Decimal = Decimal("1.08")
    large_apartment_above_m2: Decimal = Decimal("120")
    large_apartment_discount: Decimal = Decimal("0.95")
    large_house_above_m2: Decimal = Decimal("200")
    large_house_discount: Decimal = Decimal("0.93")


def normalise(name: str) -> str:
    """Case-, accent-, hyphen- and space-insensitive form of a place name."""
    ascii_only = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", ascii_only.lower()).strip().replace("saint ", "st ")


def department_of(postcode: str) -> str:
    """The département of a French postcode (``97x`` overseas, ``2A``/``2B`` for Corsica)."""
    if not re.fullmatch(r"\d{5}", postcode):
        raise ValueError("a postcode has 5 digits")
    if postcode.startswith("97"):
        return postcode[:3]
    if postcode.startswith("20"):
        return "2A" if postcode[:3] in ("200", "201") else "2B"
    return postcode[:2]


@dataclass(frozen=True)
class ReferencePrices:
    """Prices by (département, normalised city); city ``""`` is the département's fallback."""

    rows: dict[tuple[str, str], tuple[Decimal, Decimal]]
    #: The table's spelling of each city, for the ``reference`` ("city:Saint-Étienne").
    names: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> ReferencePrices:
        with path.open(encoding="utf-8") as handle:
            records = list(csv.DictReader(handle))
        keyed = [((row["department"], normalise(row["city"])), row) for row in records]
        return cls(
            {key: (Decimal(row["apartment_m2"]), Decimal(row["house_m2"])) for key, row in keyed},
            {key: row["city"] for key, row in keyed if row["city"]},
        )

    def price(self, postcode: str, city: str, kind: str) -> tuple[Decimal, str]:
        """The price per m² and which row gave it; raises ValuationUnavailable."""
        department = department_of(postcode)
        column = 0 if kind == "apartment" else 1
        city_key = (department, normalise(city))
        for key, reference in ((city_key, f"city:{self.names.get(city_key, city.strip())}"),
                               ((department, ""), f"department:{department}")):
            if key in self.rows:
                return self.rows[key][column], reference
        raise ValuationUnavailable(f"There is no reference price for {postcode} {city.strip()}; "
                                   "the property cannot be valued.")


@lru_cache(maxsize=1)
def default_prices() -> ReferencePrices:
    return ReferencePrices.load()


def _adjustments(kind: str, surface: Decimal, config: AdjustmentConfig) -> tuple[Adjustment, ...]:
    if surface < config.small_below_m2:
        return (Adjustment("small_surface", config.small_premium,
                           f"Under {config.small_below_m2} m², small units sell dearer per m²."),)
    if kind == "apartment" and surface > config.large_apartment_above_m2:
        return (Adjustment("large_apartment", config.large_apartment_discount,
                           f"Apartments over {config.large_apartment_above_m2} m² sell cheaper per m²."),)
    if kind == "house" and surface > config.large_house_above_m2:
        return (Adjustment("large_house", config.large_house_discount,
                           f"Houses over {config.large_house_above_m2} m² sell cheaper per m²."),)
    return ()


def value_property(
    postcode: str,
    city: str,
    kind: str,
    surface_m2: Decimal,
    loan_amount: Decimal,
    table: ReferencePrices | None = None,
    config: AdjustmentConfig = AdjustmentConfig(),
) -> Valuation:
    """Estimate the property's value and the loan-to-value of ``loan_amount``."""
    if kind not in ("apartment", "house"):
        raise ValueError("kind is apartment or house")
    if surface_m2 <= 0:
        raise ValueError("surface must be positive")
    if loan_amount < 0:
        raise ValueError("loan amount must not be negative")
    price, reference = (table or default_prices()).price(postcode, city, kind)
    adjustments = _adjustments(kind, surface_m2, config)
    factor = Decimal(1)
    for adjustment in adjustments:
        factor *= adjustment.factor
    value = to_cents(price * surface_m2 * factor)
    return Valuation(
        estimated_value=value,
        price_per_m2=to_cents(price * factor),
        reference=reference,
        adjustments=adjustments,
        loan_to_value=to_ratio(loan_amount / value),
    )

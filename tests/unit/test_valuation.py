"""Property valuation in detail: the reference table, matching, adjustments, validation."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

from property_app.domain.valuation import (
    PRICES_FILE,
    AdjustmentConfig,
    ReferencePrices,
    ValuationUnavailable,
    default_prices,
    department_of,
    value_property,
)

D = Decimal
ROWS = list(csv.DictReader(PRICES_FILE.open(encoding="utf-8")))
METROPOLITAN = [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"]


def postcode_in(department: str) -> str:
    return {"2A": "20000", "2B": "20200"}.get(department, department.ljust(5, "0"))


def test_every_metropolitan_department_has_a_fallback() -> None:
    fallbacks = {row["department"] for row in ROWS if not row["city"]}
    assert set(METROPOLITAN) <= fallbacks
    assert {"971", "972", "973", "974"} <= fallbacks


def test_table_figures_are_plausible() -> None:
    assert len({(row["department"], row["city"]) for row in ROWS}) == len(ROWS)
    for row in ROWS:
        for column in ("apartment_m2", "house_m2"):
            price = D(row[column])
            assert 500 <= price <= 20000 and price % 10 == 0, row


@pytest.mark.parametrize("row", [row for row in ROWS if row["city"]], ids=lambda row: row["city"])
def test_every_city_row_is_found_by_its_own_name(row: dict[str, str]) -> None:
    valuation = value_property(
        postcode_in(row["department"]), row["city"].upper(), "apartment", D("50"), D("1")
    )
    assert valuation.reference == f"city:{row['city']}"
    assert valuation.price_per_m2 == D(row["apartment_m2"])


@pytest.mark.parametrize("department", METROPOLITAN)
def test_every_department_can_value_an_unknown_village(department: str) -> None:
    valuation = value_property(postcode_in(department), "Trifouillis-les-Oies", "house", D("100"), D("1"))
    assert valuation.reference == f"department:{department}"


@pytest.mark.parametrize("spelling", ["Saint Etienne", "saint-étienne", "  SAINT-ETIENNE ", "St Étienne"])
def test_city_spellings(spelling: str) -> None:
    assert value_property("42100", spelling, "house", D("90"), D("1")).reference == "city:Saint-Étienne"


def test_a_city_is_only_matched_in_its_department() -> None:
    # Lyon is in 69; a 13 postcode with city "Lyon" falls back to the Bouches-du-Rhône row
    assert value_property("13001", "Lyon", "apartment", D("50"), D("1")).reference == "department:13"


@pytest.mark.parametrize(
    ("postcode", "department"),
    [
        ("01000", "01"),
        ("20090", "2A"),
        ("20167", "2A"),
        ("20200", "2B"),
        ("20620", "2B"),
        ("97110", "971"),
        ("97611", "976"),
        ("95000", "95"),
    ],
)
def test_department_of(postcode: str, department: str) -> None:
    assert department_of(postcode) == department


@pytest.mark.parametrize("postcode", ["", "6900", "690021", "69 02", "ABCDE", "6900A"])
def test_malformed_postcodes_are_refused(postcode: str) -> None:
    with pytest.raises(ValueError):
        value_property(postcode, "Lyon", "apartment", D("50"), D("1"))


@pytest.mark.parametrize(
    ("kind", "surface", "names"),
    [
        ("apartment", "29.99", ["small_surface"]),
        ("apartment", "30", []),
        ("apartment", "120", []),
        ("apartment", "120.5", ["large_apartment"]),
        ("house", "150", []),
        ("house", "200", []),
        ("house", "201", ["large_house"]),
        ("house", "25", ["small_surface"]),
    ],
)
def test_surface_adjustment_boundaries(kind: str, surface: str, names: list[str]) -> None:
    valuation = value_property("69001", "Lyon", kind, D(surface), D("1"))
    assert [adjustment.name for adjustment in valuation.adjustments] == names
    assert all(adjustment.explanation for adjustment in valuation.adjustments)


def test_value_and_loan_to_value_arithmetic() -> None:
    valuation = value_property("69003", "Lyon", "apartment", D("130"), D("300000"))
    # 5000 €/m² × 0.95 = 4750 €/m² × 130 m² = 617 500 €
    assert valuation.price_per_m2 == D("4750.00") and valuation.estimated_value == D("617500.00")
    assert valuation.loan_to_value == D("0.4858")


def test_custom_table_and_config() -> None:
    table = ReferencePrices({("69", ""): (D("1000"), D("2000"))})
    valuation = value_property(
        "69001",
        "Lyon",
        "house",
        D("10"),
        D("0"),
        table=table,
        config=AdjustmentConfig(small_premium=D("1.50")),
    )
    assert valuation.reference == "department:69" and valuation.estimated_value == D("30000.00")
    assert valuation.loan_to_value == D("0.0000")


def test_unavailable_location_has_a_code_and_a_human_message() -> None:
    for postcode, city in (("97600", "Mamoudzou"), ("98000", "Monaco"), ("00100", "Nowhere")):
        with pytest.raises(ValuationUnavailable) as raised:
            value_property(postcode, city, "apartment", D("50"), D("1"))
        assert raised.value.code == "VALUATION_UNAVAILABLE" and city in str(raised.value)


@pytest.mark.parametrize(
    ("kind", "surface", "loan"),
    [("castle", "50", "1"), ("house", "0", "1"), ("house", "-3", "1"), ("house", "50", "-1")],
)
def test_invalid_inputs_are_refused(kind: str, surface: str, loan: str) -> None:
    with pytest.raises(ValueError):
        value_property("69001", "Lyon", kind, D(surface), D(loan))


def test_table_is_loaded_once() -> None:
    assert default_prices() is default_prices()

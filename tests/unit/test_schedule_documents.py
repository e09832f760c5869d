"""The repayment schedule documents: they agree with the offer to the cent, in CSV and in PDF."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fpdf.fonts import CORE_FONTS_CHARWIDTHS
from pypdf import PdfReader

from lending.amortization import loan_cost
from notify_app.adapters import pdf
from notify_app.adapters.csv_file import schedule_csv
from notify_app.adapters.pdf import schedule_pdf
from notify_app.domain.formatting import format_date, format_duration, format_money, format_rate
from notify_app.domain.schedule import ScheduleMismatch, schedule_rows

D = Decimal
FIRST_DUE = date(2027, 1, 5)


def make_offer(amount: str, rate: str, months: int, insurance: str = "50.00") -> dict[str, Any]:
    """An offer as the decision service publishes it (computed with the shared finance module)."""
    cost = loan_cost(D(amount), D(rate), months)
    return {"amount": amount, "duration_months": months, "annual_rate": rate,
            "monthly_payment": str(cost.monthly_payment), "monthly_insurance": insurance,
            "total_interest": str(cost.total_interest), "total_cost": str(cost.total_cost)}


def pdf_pages(data: bytes) -> list[str]:
    """Each page's text, no-break spaces made plain and runs of spaces collapsed."""
    return [" ".join(page.extract_text().replace("\xa0", " ").split()) for page in PdfReader(io.BytesIO(data)).pages]


def plain(text: str) -> str:
    return text.replace("\xa0", " ")


OFFERS = [("200000", "0.0355", 240), ("150000", "0.0420", 300), ("80000", "0", 120), ("1000", "0.05", 1),
          ("349999.99", "0.0299", 180), ("500000", "0.0725", 360), ("12345.67", "0.0333", 37)]


@pytest.mark.parametrize(("amount", "rate", "months"), OFFERS)
def test_schedule_totals_equal_the_offer_to_the_cent(amount: str, rate: str, months: int) -> None:
    offer = make_offer(amount, rate, months)
    rows = schedule_rows(offer, FIRST_DUE)
    assert len(rows) == months
    assert sum(row.interest for row in rows) == D(offer["total_interest"])
    assert sum(row.principal for row in rows) == D(amount)
    assert sum(row.payment for row in rows) == D(offer["total_cost"])
    assert rows[-1].balance == 0
    assert rows[0].due_date == FIRST_DUE


def test_the_published_example_offer_is_consistent() -> None:
    offer = {"amount": "200000", "duration_months": 240, "annual_rate": "0.0355", "monthly_payment": "1165.06",
             "monthly_insurance": "50.00", "total_interest": "79616.01", "total_cost": "279616.01"}
    assert schedule_rows(offer, FIRST_DUE)[-1].due_date == date(2046, 12, 5)


@pytest.mark.parametrize(("field", "value"), [("total_interest", "79616.02"), ("amount", "200000.01"),
                                              ("monthly_payment", "1165.07"), ("total_cost", "279616.00")])
def test_an_offer_the_schedule_contradicts_produces_no_document(field: str, value: str) -> None:
    offer = {**make_offer("200000", "0.0355", 240), field: value}  # a changed amount changes the cost
    with pytest.raises(ScheduleMismatch) as raised:
        schedule_rows(offer, FIRST_DUE)
    assert isinstance(raised.value, ValueError)
    with pytest.raises(ScheduleMismatch):
        schedule_csv(offer, FIRST_DUE, "en")
    with pytest.raises(ScheduleMismatch):
        schedule_pdf(offer, "app-1", "A", FIRST_DUE, "en")


@pytest.mark.parametrize("broken", [{"amount": None}, {"annual_rate": "abc"}, {"duration_months": "x"},
                                    {"total_interest": "NaN"}, {"amount": "Infinity"}])
def test_a_malformed_offer_is_a_value_error(broken: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="malformed offer"):
        schedule_rows({**make_offer("1000", "0.05", 12), **broken}, FIRST_DUE)


def test_a_missing_figure_is_a_value_error() -> None:
    offer = make_offer("1000", "0.05", 12)
    del offer["total_cost"]
    with pytest.raises(ValueError, match="malformed offer"):
        schedule_rows(offer, FIRST_DUE)


@pytest.mark.parametrize(("amount", "rate", "months"), OFFERS)
def test_csv_parses_back_with_one_row_per_month_and_totals(amount: str, rate: str, months: int) -> None:
    offer = make_offer(amount, rate, months)
    rows = list(csv.reader(io.StringIO(schedule_csv(offer, FIRST_DUE, "en").decode("utf-8"))))
    assert len(rows) == months + 2
    assert rows[0] == ["No.", "Due date", "Payment", "Interest", "Principal", "Remaining balance"]
    assert rows[1][:2] == ["1", "2027-01-05"]
    assert rows[-2][0] == str(months) and D(rows[-2][5]) == 0
    assert rows[-1] == ["Total", "", offer["total_cost"], offer["total_interest"], f"{D(amount):.2f}", ""]
    assert sum(D(row[3]) for row in rows[1:-1]) == D(offer["total_interest"])


def test_csv_in_french_translates_the_header_only() -> None:
    data = schedule_csv(make_offer("200000", "0.0355", 240), FIRST_DUE, "fr")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert rows[0] == ["N°", "Échéance", "Mensualité", "Intérêts", "Capital", "Capital restant dû"]
    assert rows[1] == ["1", "2027-01-05", "1165.06", "591.67", "573.39", "199426.61"]
    assert rows[-1][3] == "79616.01"


def test_pdf_in_english_states_the_offer_and_the_whole_table() -> None:
    offer = make_offer("200000", "0.0355", 240)
    data = schedule_pdf(offer, "app-123", "Alice Propre", FIRST_DUE, "en")
    assert data.startswith(b"%PDF")
    pages = pdf_pages(data)
    text = " ".join(pages)
    assert pages[0].startswith("Repayment schedule")
    for expected in ("Alice Propre", "app-123", "200,000.00 €", "3.55%", "240 months (20 years)", "1,165.06 €",
                     "50.00 €", "Total interest 79,616.01 €", "279,616.01 €"):
        assert expected in pages[0], expected
    assert "2046-12-05" in pages[-1]  # the last due date
    assert "Total 279,616.01 € 79,616.01 € 200,000.00 €" in text
    assert pages[-1].endswith(f"Page {len(pages)}/{len(pages)}")


def test_pdf_figures_are_right_aligned_on_their_column_and_each_row_on_one_baseline() -> None:
    """Read back from the page's drawing operators: every row is drawn as one text object."""
    data = schedule_pdf(make_offer("200000", "0.0355", 240), "app-1", "Alice Propre", FIRST_DUE, "en")
    content = PdfReader(io.BytesIO(data)).pages[1].get_contents().get_data().decode("latin-1")
    widths = CORE_FONTS_CHARWIDTHS["helvetica"]
    right_edges: dict[int, set[float]] = {}
    baselines = set()
    for row in re.findall(r"BT (.*?) ET", content):
        placed = re.findall(r"1 0 0 1 ([\d.]+) ([\d.]+) Tm \((.*?)\) Tj", row)
        if len(placed) != 6 or not placed[0][2].isdigit():
            continue  # the headings
        baselines.add(len({y for _, y, _ in placed}))
        for column in (0, 2, 3, 4, 5):  # the figures: right-aligned
            x, _, text = placed[column]
            right_edges.setdefault(column, set()).add(round(float(x) + sum(widths[c] for c in text) * 9 / 1000, 1))
    assert baselines == {1} and len(right_edges) == 5
    assert all(len(edges) == 1 for edges in right_edges.values()), right_edges


def test_pdf_in_french_uses_french_formats() -> None:
    offer = make_offer("200000", "0.0355", 240)
    pages = pdf_pages(schedule_pdf(offer, "app-123", "Zoé Crédit", FIRST_DUE, "fr"))
    assert pages[0].startswith("Tableau d'amortissement")
    for expected in ("Zoé Crédit", "200 000,00 €", "3,55 %", "240 mois (20 ans)", "1 165,06 €",
                     "Total des intérêts 79 616,01 €", "Coût total 279 616,01 €"):
        assert expected in pages[0], expected
    assert "05/12/2046" in pages[-1]
    assert "Total 279 616,01 € 79 616,01 € 200 000,00 €" in pages[-1]


def test_a_300_month_schedule_spans_pages_each_with_the_headings() -> None:
    offer = make_offer("150000", "0.0420", 300)
    pages = pdf_pages(schedule_pdf(offer, "app-9", "Bob", FIRST_DUE, "en"))
    assert len(pages) >= 5
    for number, page in enumerate(pages, start=1):
        assert page.endswith(f"Page {number}/{len(pages)}")
        if number > 1:
            assert page.startswith("No. Due date Payment Interest Principal Remaining balance")
    text = " ".join(pages)
    assert all(f" {month} " in text for month in (1, 150, 299))
    assert "2051-12-05" in pages[-1]
    assert plain(format_money(D(offer["total_interest"]), "en")) in pages[-1]


def test_without_dejavu_the_core_font_replaces_what_it_cannot_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf, "FONT_FILES", {"": Path("/nonexistent/DejaVuSans.ttf")})
    pages = pdf_pages(schedule_pdf(make_offer("200000", "0.0355", 240), "app-1", "Zoé Łi 李", FIRST_DUE, "fr"))
    assert "Zoé ?i ?" in pages[0]
    assert "79 616,01 €" in pages[0]  # "€" is in cp1252, the core fonts' encoding here


@pytest.mark.skipif(not all(path.is_file() for path in pdf.FONT_FILES.values()), reason="DejaVu not installed")
def test_with_dejavu_a_character_outside_the_font_becomes_a_question_mark() -> None:
    pages = pdf_pages(schedule_pdf(make_offer("1000", "0.05", 12), "app-1", "Łukasz 李", FIRST_DUE, "en"))
    assert "Łukasz ?" in pages[0]


@pytest.mark.parametrize(("amount", "en", "fr"), [("200000", "200,000.00 €", "200 000,00 €"),
                                                   ("1165.055", "1,165.06 €", "1 165,06 €"),
                                                   ("0", "0.00 €", "0,00 €"),
                                                   ("1234567.8", "1,234,567.80 €", "1 234 567,80 €")])
def test_money_formats(amount: str, en: str, fr: str) -> None:
    assert plain(format_money(D(amount), "en")) == en
    assert plain(format_money(D(amount), "fr")) == fr
    assert "\xa0" in format_money(D(amount), "fr")  # never broken across lines


@pytest.mark.parametrize(("rate", "en", "fr"), [("0.0355", "3.55%", "3,55 %"), ("0.04", "4.00%", "4,00 %"),
                                                 ("0.03125", "3.125%", "3,125 %"), ("0", "0.00%", "0,00 %")])
def test_rate_formats(rate: str, en: str, fr: str) -> None:
    assert format_rate(D(rate), "en") == en
    assert plain(format_rate(D(rate), "fr")) == fr


def test_duration_and_date_formats() -> None:
    assert format_duration(240, "en") == "240 months (20 years)"
    assert format_duration(12, "fr") == "12 mois (1 an)"
    assert format_duration(1, "en") == "1 month"
    assert format_duration(37, "en") == "37 months"
    assert format_date(date(2027, 1, 5), "en") == "2027-01-05"
    assert format_date(date(2027, 1, 5), "fr-FR") == "05/01/2027"
    assert format_date(date(2027, 1, 5), "de") == "2027-01-05"  # unknown language: English


def test_a_name_that_fits_cp1252_needs_no_embedded_font() -> None:
    """The fast path: Helvetica, no TrueType font parsed and embedded (docs/benchmarks.md)."""
    data = schedule_pdf(make_offer("200000", "0.0355", 240), "app-1", "Zoé Crédit-Œuvre", FIRST_DUE, "fr")
    assert b"/FontFile2" not in data and b"/Helvetica" in data
    assert "Zoé Crédit-Œuvre" in pdf_pages(data)[0]


@pytest.mark.skipif(not all(path.is_file() for path in pdf.FONT_FILES.values()), reason="DejaVu not installed")
def test_a_name_beyond_cp1252_switches_the_whole_document_to_dejavu() -> None:
    data = schedule_pdf(make_offer("1000", "0.05", 12), "app-1", "Łukasz", FIRST_DUE, "fr")
    assert b"/FontFile2" in data
    pages = pdf_pages(data)
    assert "Łukasz" in pages[0] and "Total 1 027,30 € 27,30 €" in pages[-1]

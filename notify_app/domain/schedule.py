"""The repayment schedule sent with an approval, as CSV and PDF, built from the published offer.

The decision service states the offer (payment, total interest, total cost) and the applicant
receives a schedule next to it: the two must never disagree, not even by a cent. So the schedule
is recomputed with the one shared amortization module (``lending.amortization``, also used to compute
the offer) and checked against the offer before any document is produced: a mismatch raises
:class:`ScheduleMismatch` rather than sending a document that contradicts the contract.

Pure functions of their inputs (no clock, no I/O beyond reading a font file), so the same offer
always gives the same rows, whichever worker renders it and however often it is retried.
The money formatting used here is shared with the e-mails (:mod:`notify_app.domain.emails`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from lending.amortization import CENT, Installment, Offer, amortization_schedule, to_cents

LANGUAGES = ("en", "fr")
NBSP = "\u00a0"  # between thousands and before the unit, so "200 000,00 €" never wraps

LABELS: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Repayment schedule",
        "columns": ("No.", "Due date", "Payment", "Interest", "Principal", "Remaining balance"),
        "total": "Total",
        "page": "Page",
        "summary": ("Applicant", "Application", "Amount", "Annual rate", "Duration", "Monthly payment",
                    "Monthly insurance", "Total interest", "Total cost"),
        "months": ("month", "months"),
        "years": ("year", "years"),
        "note": "Payments exclude insurance.",
    },
    "fr": {
        "title": "Tableau d'amortissement",
        "columns": ("N°", "Échéance", "Mensualité", "Intérêts", "Capital", "Capital restant dû"),
        "total": "Total",
        "page": "Page",
        "summary": ("Emprunteur", "Demande", "Montant", "Taux annuel", "Durée", "Mensualité",
                    "Assurance mensuelle", "Total des intérêts", "Coût total"),
        "months": ("mois", "mois"),
        "years": ("an", "ans"),
        "note": "Mensualités hors assurance.",
    },
}


class ScheduleMismatch(ValueError):
    """The recomputed schedule disagrees with the offer: no document may be produced."""


# --- formatting (shared with the e-mails) --------------------------------------------------------

def language_of(language: str | None) -> str:
    """``"en"`` or ``"fr"`` from a language tag (``"fr-FR"`` → ``"fr"``); anything else → ``"en"``."""
    code = (language or "").replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else "en"


def format_money(amount: Decimal, language: str) -> str:
    """``"200,000.00 €"`` (en) or ``"200 000,00 €"`` (fr), rounded half-up to the cent."""
    text = f"{to_cents(Decimal(amount)):,.2f}"
    if language_of(language) == "fr":
        text = text.translate({ord(","): NBSP, ord("."): ","})
    return f"{text}{NBSP}€"


def format_rate(annual_rate: Decimal, language: str) -> str:
    """A fraction as a percentage with at least two decimals: ``0.0355`` → ``"3.55%"`` / ``"3,55 %"``."""
    percent = (Decimal(annual_rate) * 100).normalize()
    if int(percent.as_tuple().exponent) > -2:
        percent = percent.quantize(CENT)
    if language_of(language) == "fr":
        return f"{percent:f}".replace(".", ",") + f"{NBSP}%"
    return f"{percent:f}%"


def format_duration(months: int, language: str) -> str:
    """``"240 months (20 years)"`` / ``"240 mois (20 ans)"``; years only for whole years."""
    labels = LABELS[language_of(language)]
    text = f"{months} {labels['months'][months != 1]}"
    years, rest = divmod(months, 12)
    if years and not rest:
        text += f" ({years} {labels['years'][years != 1]})"
    return text


def format_date(day: date, language: str) -> str:
    """ISO ``2027-01-05`` in English (no dd/mm vs mm/dd ambiguity), ``05/01/2027`` in French."""
    return day.strftime("%d/%m/%Y") if language_of(language) == "fr" else day.isoformat()


# --- the offer and its schedule ------------------------------------------------------------------

@dataclass(frozen=True)
class ScheduleTotals:
    payment: Decimal
    interest: Decimal
    principal: Decimal


def schedule_totals(rows: list[Installment]) -> ScheduleTotals:
    """The sums of the payment, interest and principal columns."""
    zero = Decimal("0.00")
    return ScheduleTotals(payment=sum((row.payment for row in rows), zero),
                          interest=sum((row.interest for row in rows), zero),
                          principal=sum((row.principal for row in rows), zero))


def schedule_rows(offer: dict[str, Any], first_due_date: date) -> list[Installment]:
    """Every installment of the offer, checked to agree with it to the cent.

    Raises:
      ScheduleMismatch: the schedule's totals or payment differ from what the offer states.
      ValueError: the offer is malformed.
    """
    terms = Offer.from_dict(offer)
    rows = amortization_schedule(terms.amount, terms.annual_rate, terms.duration_months, first_due_date)
    _check_against_offer(terms, rows)
    return rows


def _check_against_offer(terms: Offer, rows: list[Installment]) -> None:
    totals = schedule_totals(rows)
    computed = {"amount": totals.principal, "total_interest": totals.interest,
                "total_cost": totals.payment, "monthly_payment": rows[0].payment}
    wrong = [f"{name}: offer says {to_cents(getattr(terms, name))}, schedule gives {value}"
             for name, value in computed.items() if to_cents(getattr(terms, name)) != value]
    if wrong:
        raise ScheduleMismatch("; ".join(wrong))


# --- CSV -----------------------------------------------------------------------------------------

def schedule_csv(offer: dict[str, Any], first_due_date: date, language: str) -> bytes:
    """UTF-8 CSV: translated header, one row per month, a totals row.

    Values stay machine-readable in every language (ISO dates, ``1165.06``), so a spreadsheet or
    a script reads them the same way; only the header is translated.
    """
    rows = schedule_rows(offer, first_due_date)
    labels = LABELS[language_of(language)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(labels["columns"])
    for row in rows:
        writer.writerow([row.number, row.due_date.isoformat(), f"{row.payment:.2f}", f"{row.interest:.2f}",
                         f"{row.principal:.2f}", f"{row.balance:.2f}"])
    totals = schedule_totals(rows)
    writer.writerow([labels["total"], "", f"{totals.payment:.2f}", f"{totals.interest:.2f}",
                     f"{totals.principal:.2f}", ""])
    return buffer.getvalue().encode("utf-8")


# --- PDF -----------------------------------------------------------------------------------------

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {"": DEJAVU_DIR / "DejaVuSans.ttf", "B": DEJAVU_DIR / "DejaVuSans-Bold.ttf"}
CORE_FONT, CORE_ENCODING = "Helvetica", "windows-1252"  # cp1252 has "€", "É", "°", latin-1 lacks "€"
# The table is drawn with one rect() per row, text() per cell and the column rules once per page,
# not cell() or FPDF.table(): one line per row needs no wrapping or shaping. With the core font (no
# TrueType parsing and subsetting) a 240-month document takes ~20 ms instead of 0.26 s (cell() and
# DejaVu) or ~1.5 s (table()): the documents worker had been half the CPU of the whole pipeline
# in the benchmark (docs/benchmarks.md).
COLUMN_WIDTHS = (12, 26, 34, 34, 34, 50)  # mm, 190 in all: A4 minus the 10 mm margins
TABLE_WIDTH = sum(COLUMN_WIDTHS)
COLUMN_ALIGN = ("R", "C", "R", "R", "R", "R")
ROW_HEIGHT = 5.5
PADDING = 1.0  # mm between a cell's border and its text, as FPDF.cell's c_margin


def _fits_core_font(texts: tuple[str, ...]) -> bool:
    try:
        for text in texts:
            text.encode(CORE_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


class _SchedulePdf(FPDF):
    """A4 portrait; Helvetica when every text fits cp1252, else DejaVu (if installed), else
    Helvetica with what it cannot draw replaced.

    The core font is the fast path (every English or French label, every figure and most names);
    a name such as "Łukasz" needs a TrueType font, which fpdf2 parses and subsets per document.
    """

    def __init__(self, language: str, texts: tuple[str, ...]) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.labels = LABELS[language]
        self.table_open = False
        self.segment_top = 0.0
        self.set_lang(language)
        self.body_font = self._choose_font((*texts, *self.labels["columns"], *self.labels["summary"]))

    def _choose_font(self, texts: tuple[str, ...]) -> str:
        if not _fits_core_font(texts) and all(path.is_file() for path in FONT_FILES.values()):
            for style, path in FONT_FILES.items():
                self.add_font("DejaVu", style, str(path))
            self._glyphs: set[int] | None = set(self.fonts["dejavu"].cmap)
            return "DejaVu"
        self.core_fonts_encoding = CORE_ENCODING
        self._glyphs = None
        return CORE_FONT

    def clean(self, text: str) -> str:
        """``text`` with every character the font cannot draw replaced by ``?`` (e.g. in a name)."""
        if self._glyphs is None:
            return text.encode(CORE_ENCODING, errors="replace").decode(CORE_ENCODING)
        return "".join(char if ord(char) in self._glyphs else "?" for char in text)

    def header(self) -> None:
        if self.table_open:
            self.draw_headings()

    def draw_headings(self) -> None:
        self.segment_top = self.y  # the column rules of this page start here
        self.draw_row(self.labels["columns"], style="B", fill=True)

    def draw_row(self, cells: tuple[str, ...], style: str = "", fill: bool = False) -> None:
        """One line of the table; a page break before it repeats the headings (see :meth:`header`).

        Each row is one rectangle; the rules between columns are drawn once per page by
        :meth:`close_segment` (a rectangle per cell cost as much as the text itself).
        """
        if self.y + ROW_HEIGHT > self.page_break_trigger:
            self.close_segment()
            self.add_page()
        self.set_font(self.body_font, style, 9)
        if fill:
            self.set_fill_color(225, 225, 225)
        font, size = self.current_font, self.font_size_pt
        x, y = self.l_margin, self.y
        self.rect(x, y, TABLE_WIDTH, ROW_HEIGHT, style="DF" if fill else "D")
        baseline = y + ROW_HEIGHT / 2 + 0.3 * self.font_size  # where FPDF.cell puts it
        for text, width, align in zip(cells, COLUMN_WIDTHS, COLUMN_ALIGN, strict=True):
            if text:
                # The font's own width table: get_string_width() would run the bidirectional
                # text algorithm on every figure (half the time of the whole document).
                spare = width - font.get_text_width(self.normalize_text(text), size, None)[1] / self.k
                self.text(x + (spare - PADDING if align == "R" else spare / 2), baseline, text)
            x += width
        self.set_y(y + ROW_HEIGHT)

    def close_segment(self) -> None:
        """The rules between columns, from this page's headings down to the last row drawn."""
        x = self.l_margin
        for width in COLUMN_WIDTHS[:-1]:
            x += width
            self.line(x, self.segment_top, x, self.y)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(self.body_font, "", 8)
        self.cell(0, 10, f"{self.labels['page']} {self.page_no()}/{{nb}}", align="C")


def schedule_pdf(offer: dict[str, Any], application_id: str, full_name: str, first_due_date: date,
                 language: str) -> bytes:
    """The schedule as an A4 PDF: title, summary of the offer, full table (header on every page)."""
    rows = schedule_rows(offer, first_due_date)
    language = language_of(language)
    pdf = _SchedulePdf(language, (full_name, application_id))
    pdf.set_title(pdf.labels["title"])
    pdf.set_author("loanflow")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    pdf.set_font(pdf.body_font, "B", 16)
    pdf.cell(0, 12, pdf.labels["title"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _summary(pdf, Offer.from_dict(offer), application_id, full_name, language)
    _table(pdf, rows, language)
    return bytes(pdf.output())


def _summary(pdf: _SchedulePdf, terms: Offer, application_id: str, full_name: str, language: str) -> None:
    values = (full_name, application_id, format_money(terms.amount, language),
              format_rate(terms.annual_rate, language), format_duration(terms.duration_months, language),
              format_money(terms.monthly_payment, language), format_money(terms.monthly_insurance, language),
              format_money(terms.total_interest, language), format_money(terms.total_cost, language))
    pdf.ln(2)
    for label, value in zip(pdf.labels["summary"], values, strict=True):
        pdf.set_font(pdf.body_font, "B", 10)
        pdf.cell(50, 6, label)
        pdf.set_font(pdf.body_font, "", 10)
        pdf.multi_cell(0, 6, pdf.clean(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(pdf.body_font, "", 8)
    pdf.cell(0, 8, pdf.labels["note"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _table(pdf: _SchedulePdf, rows: list[Installment], language: str) -> None:
    money = format_money
    pdf.ln(2)
    pdf.draw_headings()
    pdf.table_open = True  # from here on, every new page starts with the column headings
    for row in rows:
        pdf.draw_row((str(row.number), format_date(row.due_date, language), money(row.payment, language),
                      money(row.interest, language), money(row.principal, language), money(row.balance, language)))
    totals = schedule_totals(rows)
    pdf.draw_row((pdf.labels["total"], "", money(totals.payment, language), money(totals.interest, language),
                  money(totals.principal, language), ""), style="B")
    pdf.close_segment()
    pdf.table_open = False

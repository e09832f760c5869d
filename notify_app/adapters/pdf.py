"""The repayment schedule drawn as an A4 PDF with fpdf2 (what it says: ``notify_app.domain.schedule``).

Why its own adapter: drawing is I/O-bound detail (a font file read from disk, fpdf2's page
model) that the domain need not know, and it is the documents worker's hot spot, tuned for speed
as the comments below explain. The words and figures arrive ready in a
:class:`~notify_app.domain.schedule.ScheduleSheet`; this module only places them on pages.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import CoreFont

from lending.amortization import Installment
from notify_app.domain.schedule import ScheduleSheet, schedule_sheet

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {"": DEJAVU_DIR / "DejaVuSans.ttf", "B": DEJAVU_DIR / "DejaVuSans-Bold.ttf"}
CORE_FONT, CORE_ENCODING = "Helvetica", "windows-1252"  # cp1252 has "€", "É", "°", latin-1 lacks "€"
# The table is drawn as one rectangle and one text object per row (what rect() and text() write,
# see _SchedulePdf._row_content) and the column rules once per page, not cell() or FPDF.table():
# one line per row needs no wrapping or shaping. With the core font (no TrueType parsing and
# subsetting) a 240-month document takes ~20 ms on the benchmark machine instead of 35 ms (text()
# per cell), 0.26 s (cell() and DejaVu) or ~1.5 s (table()): the documents worker had been half
# the CPU of the whole pipeline in the benchmark (docs/benchmarks.md).
COLUMN_WIDTHS = (12, 26, 34, 34, 34, 50)  # mm, 190 in all: A4 minus the 10 mm margins
TABLE_WIDTH = sum(COLUMN_WIDTHS)
COLUMN_ALIGN = ("R", "C", "R", "R", "R", "R")
ROW_HEIGHT = 5.5
PADDING = 1.0  # mm between a cell's border and its text, as FPDF.cell's c_margin
SUMMARY_LABEL_WIDTH = 50


def schedule_pdf(offer: dict[str, Any], application_id: str, full_name: str, first_due_date: date,
                 language: str, rows: list[Installment] | None = None) -> bytes:
    """The schedule as an A4 PDF: title, summary of the offer, full table (header on every page);
    ``rows`` as :func:`~notify_app.domain.schedule.schedule_sheet`'s.

    Raises:
      ScheduleMismatch, ValueError: the offer contradicts its schedule, or is malformed.
    """
    sheet = schedule_sheet(offer, application_id, full_name, first_due_date, language, rows)
    pdf = _SchedulePdf(sheet)
    pdf.set_title(sheet.title)
    pdf.set_author("loanflow")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    pdf.set_font(pdf.body_font, "B", 16)
    pdf.cell(0, 12, sheet.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _summary(pdf, sheet)
    _table(pdf, sheet)
    return bytes(pdf.output())


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

    def __init__(self, sheet: ScheduleSheet) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.sheet = sheet
        self.table_open = False
        self.segment_top = 0.0
        self.set_lang(sheet.language)
        self.body_font = self._choose_font(sheet.texts())

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
        self.draw_row(self.sheet.columns, style="B", fill=True)

    def draw_row(self, cells: tuple[str, ...], style: str = "", fill: bool = False) -> None:
        """One line of the table; a page break before it repeats the headings (see :meth:`header`).

        Each row is one rectangle; the rules between columns are drawn once per page by
        :meth:`close_segment` (a rectangle per cell cost as much as the text itself).
        """
        if self.y + ROW_HEIGHT > self.page_break_trigger:
            self.close_segment()
            self.add_page()
        if self.font_style != style or self.font_size_pt != 9 or self.current_font is None:
            self.set_font(self.body_font, style, 9)
        y = self.y
        if fill:
            self.set_fill_color(225, 225, 225)
            self.rect(self.l_margin, y, TABLE_WIDTH, ROW_HEIGHT, style="DF")
            self.set_fill_color(0)  # back to the text's colour: PDF fills glyphs with the fill colour
        self._out(self._row_content(cells, y, border=not fill))
        self.set_y(y + ROW_HEIGHT)

    def _row_content(self, cells: tuple[str, ...], top: float, border: bool) -> str:
        """The row's rectangle and text as PDF operators: what ``rect()`` and ``text()`` write,
        with the font's own encoding, escaping and width table, without their per-call work.

        Why: 1,500 ``text()`` calls per document (decorators, checks, a text object and a colour
        comparison each) were two thirds of the documents worker's CPU; one string per row is
        several times cheaper and draws the same page (tests/unit/test_schedule_documents.py
        reads it back). fpdf2 still owns fonts, resources, pages, compression and the file; the
        members used here (``_out``, ``_set_font_for_page``) are its own text() internals, which
        is why requirements.txt pins fpdf2 to one version.
        """
        font, size, k, page_height = self.current_font, self.font_size_pt, self.k, self.h
        assert font is not None
        ops = [] if self.current_font_is_set_on_page else [self._set_font_for_page(font, size)]
        if border:
            ops.append(f"{self.l_margin * k:.2f} {(page_height - top) * k:.2f} {TABLE_WIDTH * k:.2f} "
                       f"{-ROW_HEIGHT * k:.2f} re S")
        baseline = f"{(page_height - top - ROW_HEIGHT / 2 - 0.3 * self.font_size) * k:.2f}"  # FPDF.cell's
        ops.append("BT")
        encode, padding = font.encode_text, PADDING * k
        # One encoding per row, not per cell (a cell is one line: it holds no line break).
        texts = self.normalize_text("\n".join(cells)).split("\n")
        if isinstance(font, CoreFont):  # its width table is keyed by (cp1252) character
            widths, scale = font.cw.__getitem__, size / 1000
            measured = [sum(map(widths, text)) * scale for text in texts]
        else:
            measured = [font.get_text_width(text, size, None)[1] for text in texts]
        left = self.l_margin * k
        for text, text_width, width_mm, align in zip(texts, measured, COLUMN_WIDTHS, COLUMN_ALIGN, strict=True):
            width = width_mm * k  # points, as the operators
            if text:
                spare = width - text_width
                ops.append(f"1 0 0 1 {left + (spare - padding if align == 'R' else spare / 2):.2f} {baseline} Tm "
                           f"{encode(text)}")
            left += width
        ops.append("ET")
        return " ".join(ops)

    def close_segment(self) -> None:
        """The rules between columns, from this page's headings down to the last row drawn."""
        x = self.l_margin
        for width in COLUMN_WIDTHS[:-1]:
            x += width
            self.line(x, self.segment_top, x, self.y)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(self.body_font, "", 8)
        self.cell(0, 10, f"{self.sheet.page} {self.page_no()}/{{nb}}", align="C")


def _summary(pdf: _SchedulePdf, sheet: ScheduleSheet) -> None:
    pdf.ln(2)
    room = pdf.epw - SUMMARY_LABEL_WIDTH - 2 * pdf.c_margin
    for label, value in sheet.summary:
        pdf.set_font(pdf.body_font, "B", 10)
        pdf.cell(SUMMARY_LABEL_WIDTH, 6, label)
        pdf.set_font(pdf.body_font, "", 10)
        value = pdf.clean(value)
        # multi_cell() only for what must wrap (a long name): it costs five cell()s.
        draw = pdf.cell if pdf.get_string_width(value) <= room else pdf.multi_cell
        draw(0, 6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(pdf.body_font, "", 8)
    pdf.cell(0, 8, sheet.note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _table(pdf: _SchedulePdf, sheet: ScheduleSheet) -> None:
    pdf.ln(2)
    pdf.draw_headings()
    pdf.table_open = True  # from here on, every new page starts with the column headings
    for row in sheet.rows:
        pdf.draw_row(row)
    pdf.draw_row(sheet.totals, style="B")
    pdf.close_segment()
    pdf.table_open = False

"""What the repayment schedule sent with an approval says, computed from the published offer.

The decision service states the offer (payment, total interest, total cost) and the applicant
receives a schedule next to it: the two must never disagree, not even by a cent. So the schedule
is recomputed with the one shared amortization module (``lending.amortization``, also used to compute
the offer) and checked against the offer before anything is rendered: a mismatch raises
:class:`ScheduleMismatch` rather than sending a document that contradicts the contract.

This module decides the content only: the rows, the totals, the labels in each language and the
display strings. Turning that into bytes is the adapters' work (``notify_app.adapters.pdf`` draws
:class:`ScheduleSheet`, ``notify_app.adapters.csv_file`` writes :func:`schedule_table`). Pure
functions of their inputs (no clock, no I/O), so the same offer always gives the same rows,
whichever worker renders it and however often it is retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from lending.amortization import Installment, Offer, amortization_schedule, to_cents
from notify_app.domain.formatting import format_date, format_duration, format_rate, language_of, money_formatter

LABELS: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Repayment schedule",
        "columns": ("No.", "Due date", "Payment", "Interest", "Principal", "Remaining balance"),
        "total": "Total",
        "page": "Page",
        "summary": ("Applicant", "Application", "Amount", "Annual rate", "Duration", "Monthly payment",
                    "Monthly insurance", "Total interest", "Total cost"),
        "note": "Payments exclude insurance.",
    },
    "fr": {
        "title": "Tableau d'amortissement",
        "columns": ("N°", "Échéance", "Mensualité", "Intérêts", "Capital", "Capital restant dû"),
        "total": "Total",
        "page": "Page",
        "summary": ("Emprunteur", "Demande", "Montant", "Taux annuel", "Durée", "Mensualité",
                    "Assurance mensuelle", "Total des intérêts", "Coût total"),
        "note": "Mensualités hors assurance.",
    },
}


class ScheduleMismatch(ValueError):
    """The recomputed schedule disagrees with the offer: no document may be produced."""


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


def schedule_table(offer: dict[str, Any], first_due_date: date, language: str,
                   rows: list[Installment] | None = None) -> list[tuple[str, ...]]:
    """The schedule as a table of text: translated header, one row per month, a totals row.

    Values stay machine-readable in every language (ISO dates, ``1165.06``), so a spreadsheet or
    a script reads them the same way; only the header is translated. (The CSV file.) ``rows``:
    :func:`schedule_rows` of the same offer and date, when the caller has them already.
    """
    rows = schedule_rows(offer, first_due_date) if rows is None else rows
    labels = LABELS[language_of(language)]
    totals = schedule_totals(rows)
    return [
        tuple(labels["columns"]),
        *((str(row.number), row.due_date.isoformat(), f"{row.payment:.2f}", f"{row.interest:.2f}",
           f"{row.principal:.2f}", f"{row.balance:.2f}") for row in rows),
        (labels["total"], "", f"{totals.payment:.2f}", f"{totals.interest:.2f}", f"{totals.principal:.2f}", ""),
    ]


@dataclass(frozen=True)
class ScheduleSheet:
    """The schedule document's whole text in one language, as it is printed (the PDF)."""

    language: str
    title: str
    summary: tuple[tuple[str, str], ...]  # (label, value): the applicant, the application, the offer
    note: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # one per month, figures in the language's format
    totals: tuple[str, ...]
    page: str  # the word before "3/12" in a page's footer

    def texts(self) -> tuple[str, ...]:
        """The texts whose characters decide the font: labels and summary (a name may be in any
        script); the table adds only digits, separators and "€", in every language."""
        return (self.title, self.note, *self.columns, *(text for pair in self.summary for text in pair))


def schedule_sheet(offer: dict[str, Any], application_id: str, full_name: str, first_due_date: date,
                   language: str, rows: list[Installment] | None = None) -> ScheduleSheet:
    """What the schedule document says: title, summary of the offer, full table, totals.

    ``rows``: :func:`schedule_rows` of the same offer and date, when the caller has them already
    (the documents task builds the PDF and the CSV from one computation).

    Raises:
      ScheduleMismatch, ValueError: as :func:`schedule_rows`.
    """
    rows = schedule_rows(offer, first_due_date) if rows is None else rows
    language = language_of(language)
    labels = LABELS[language]
    terms = Offer.from_dict(offer)
    money = money_formatter(language)  # 1,200 figures: the language resolved once

    values = (full_name, application_id, money(terms.amount), format_rate(terms.annual_rate, language),
              format_duration(terms.duration_months, language), money(terms.monthly_payment),
              money(terms.monthly_insurance), money(terms.total_interest), money(terms.total_cost))
    totals = schedule_totals(rows)
    return ScheduleSheet(
        language=language, title=labels["title"], note=labels["note"], page=labels["page"],
        summary=tuple(zip(labels["summary"], values, strict=True)),
        columns=tuple(labels["columns"]),
        rows=tuple((str(row.number), format_date(row.due_date, language), money(row.payment), money(row.interest),
                    money(row.principal), money(row.balance)) for row in rows),
        totals=(labels["total"], "", money(totals.payment), money(totals.interest), money(totals.principal), ""),
    )

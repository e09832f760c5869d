"""The repayment schedule written as a UTF-8 CSV file (what it says: ``notify_app.domain.schedule``).

Why an adapter of its own: the bytes of a file format (quoting, line endings, encoding) are a
rendering detail; the domain hands over the table of text, the ``csv`` module writes it.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from lending.amortization import Installment
from notify_app.domain.schedule import schedule_table


def schedule_csv(offer: dict[str, Any], first_due_date: date, language: str,
                 rows: list[Installment] | None = None) -> bytes:
    """UTF-8 CSV: translated header, one row per month, a totals row (:func:`schedule_table`;
    ``rows`` as there).

    Raises:
      ScheduleMismatch, ValueError: the offer contradicts its schedule, or is malformed.
    """
    buffer = io.StringIO()
    csv.writer(buffer).writerows(schedule_table(offer, first_due_date, language, rows))
    return buffer.getvalue().encode("utf-8")

"""credit_app's credit inquiries as one unit of work sees them, and that unit of work.

Every inquiry row a handler writes goes through :meth:`Inquiries.insert_or_lock` or ``add``, so the
messages an inquiry records are collected when the unit of work commits.
"""

from __future__ import annotations

from typing import Any

from common.database.upsert import insert_or_lock
from common.messaging.uow import Repository, UnitOfWork
from credit_app.adapters.orm import CreditInquiry


class Inquiries(Repository):
    """The credit inquiries of one unit of work, one per application."""

    def get(self, application_id: str, *, for_update: bool = False) -> CreditInquiry | None:
        """The application's inquiry, if it has one; ``for_update`` locks it."""
        return self.track(self.session.get(CreditInquiry, application_id, with_for_update=for_update or None))

    def insert_or_lock(self, values: dict[str, Any]) -> tuple[CreditInquiry, bool]:
        """Insert the row unless the application has one, else lock the one there
        (why both writers insert first: :func:`common.database.upsert.insert_or_lock`).

        Returns:
          (the row, True if this call inserted it).
        """
        inquiry, inserted = insert_or_lock(self.session, CreditInquiry, ("application_id",), values)
        return self.track(inquiry), inserted


class CreditUnitOfWork(UnitOfWork):
    """credit_app's unit of work: its inquiries, committed with the messages they record."""

    inquiries: Inquiries

    def open_repositories(self) -> None:
        self.inquiries = Inquiries(self)

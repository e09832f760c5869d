"""credit_app's credit inquiries as one unit of work sees them, and that unit of work.

Every inquiry row a handler writes goes through :meth:`Inquiries.insert_or_lock` or ``add``, so the
messages an inquiry records are collected when the unit of work commits.
"""

from __future__ import annotations

from typing import Any

from common.database.upsert import insert_new
from common.messaging.uow import Repository, UnitOfWork
from credit_app.adapters.orm import CreditInquiry


class Inquiries(Repository):
    """The credit inquiries of one unit of work, one per application."""

    def get(self, application_id: str, *, for_update: bool = False) -> CreditInquiry | None:
        """The application's inquiry, if it has one; ``for_update`` locks it."""
        return self.track(self.session.get(CreditInquiry, application_id, with_for_update=for_update or None))

    def insert_or_lock(self, values: dict[str, Any]) -> tuple[CreditInquiry, bool]:
        """Insert the row unless the application has one, else lock the one there
        (why both writers insert first: ``common.database.db.insert_or_lock``).

        The inserted row comes back from the ``INSERT … RETURNING`` itself, as a persistent
        entity: a row this transaction inserted is locked by it already, so reading it again
        (``SELECT … FOR UPDATE``) was a statement per check for nothing.

        Returns:
          (the row, True if this call inserted it).
        """
        inserted = insert_new(self.session, CreditInquiry, ("application_id",), values)
        if inserted is not None:
            return self.track(inserted), True
        inquiry = self.session.get(CreditInquiry, values["application_id"], with_for_update=True,
                                   populate_existing=True)
        return self.track(inquiry), False


class CreditUnitOfWork(UnitOfWork):
    """credit_app's unit of work: its inquiries, committed with the messages they record."""

    inquiries: Inquiries

    def open_repositories(self) -> None:
        self.inquiries = Inquiries(self)

"""property_app's valuations as one unit of work sees them, and that unit of work."""

from __future__ import annotations

from typing import Any

from common.database.upsert import insert_new
from common.messaging.uow import Repository, UnitOfWork
from property_app.adapters.orm import PropertyValuation


class Valuations(Repository):
    """The valuations of one unit of work, one per application."""

    def get(self, application_id: str, *, for_update: bool = False) -> PropertyValuation | None:
        """The application's valuation, if it has one; ``for_update`` locks it."""
        return self.track(self.session.get(PropertyValuation, application_id, with_for_update=for_update or None))

    def insert_new(self, values: dict[str, Any]) -> PropertyValuation | None:
        """Insert the application's valuation; ``None`` (and nothing written) when it has one already.

        One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` instead of a locking read then an
        insert: a twin delivery waits for this one's commit and then writes nothing, where the
        read-then-insert pair let both find nothing and one fail on the primary key.
        """
        return self.track(insert_new(self.session, PropertyValuation, ("application_id",), values))


class PropertyUnitOfWork(UnitOfWork):
    """property_app's unit of work: its valuations, committed with the messages they record."""

    valuations: Valuations

    def open_repositories(self) -> None:
        self.valuations = Valuations(self)

"""property_app's valuations as one unit of work sees them, and that unit of work."""

from __future__ import annotations

from common.messaging.uow import Repository, UnitOfWork
from property_app.adapters.orm import PropertyValuation


class Valuations(Repository):
    """The valuations of one unit of work, one per application."""

    def get(self, application_id: str, *, for_update: bool = False) -> PropertyValuation | None:
        """The application's valuation, if it has one; ``for_update`` locks it."""
        return self.track(self.session.get(PropertyValuation, application_id, with_for_update=for_update or None))


class PropertyUnitOfWork(UnitOfWork):
    """property_app's unit of work: its valuations, committed with the messages they record."""

    valuations: Valuations

    def open_repositories(self) -> None:
        self.valuations = Valuations(self)

"""decision_app's decisions as one unit of work sees them, and that unit of work."""

from __future__ import annotations

from sqlalchemy import select

from common.messaging.uow import Repository, UnitOfWork
from decision_app.adapters.orm import DecisionRecord


class Decisions(Repository):
    """The decisions of one unit of work, one per application and round."""

    def for_round(self, application_id: str, round_: int) -> DecisionRecord | None:
        """The decision of that round, if it was made."""
        return self.track(self.session.scalars(select(DecisionRecord).where(
            DecisionRecord.application_id == application_id, DecisionRecord.round == round_)).one_or_none())


class DecisionUnitOfWork(UnitOfWork):
    """decision_app's unit of work: its decisions, committed with the messages they record."""

    decisions: Decisions

    def open_repositories(self) -> None:
        self.decisions = Decisions(self)

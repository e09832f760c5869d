"""decision_app's decisions as one unit of work sees them, and that unit of work."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from common.database.upsert import insert_new
from common.messaging.uow import Repository, UnitOfWork
from decision_app.adapters.orm import DecisionRecord


class Decisions(Repository):
    """The decisions of one unit of work, one per application and round."""

    def for_round(self, application_id: str, round_: int) -> DecisionRecord | None:
        """The decision of that round, if it was made."""
        return self.track(self.session.scalars(select(DecisionRecord).where(
            DecisionRecord.application_id == application_id, DecisionRecord.round == round_)).one_or_none())

    def insert_new(self, values: dict[str, Any]) -> DecisionRecord | None:
        """Insert the round's decision; ``None`` (and nothing written) when the round was decided.

        One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` on the (application, round) constraint
        instead of a read then an insert: the usual first ask costs one statement, and a twin
        waits for the first decision's commit instead of failing on the constraint.
        """
        return self.track(insert_new(self.session, DecisionRecord, ("application_id", "round"), values))


class DecisionUnitOfWork(UnitOfWork):
    """decision_app's unit of work: its decisions, committed with the messages they record."""

    decisions: Decisions

    def open_repositories(self) -> None:
        self.decisions = Decisions(self)

"""What decision_app's views read. Each query takes the service's runtime (and opens one session
when it reads the database)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from common.service.runtime import Runtime
from decision_app import policies
from decision_app.adapters.orm import DecisionRecord


def decisions(rt: Runtime, application_id: str) -> Sequence[DecisionRecord]:
    """The decisions made for an application, one per evaluation round, in order."""
    with rt.session_factory() as session:
        return session.scalars(select(DecisionRecord).where(DecisionRecord.application_id == application_id)
                               .order_by(DecisionRecord.round)).all()


def policy(rt: Runtime) -> dict[str, Any]:
    """The lending policy in force (version, thresholds, rate grid), as JSON-simple values: the
    version published last, or the built-in one (decision_app.policies)."""
    return policies.policy_in_force(rt)

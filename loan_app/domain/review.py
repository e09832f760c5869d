"""The officers' review of a referred application: claim, propose, four eyes, due time.

Why a review at all: the policy refers the applications close to a limit (decision_app's bands)
instead of deciding them by rule; a person decides, and a second person confirms (maker-checker,
"four eyes": no single officer can grant a loan). Each referral is due within a number of working
hours (:mod:`common.kernel.working_time`); past it, it is escalated to a supervisor, never
decided automatically.

The review lives in the application (a JSON value of the aggregate, changed under its row lock),
so a claim, a proposal and a confirmation are serialised with the saga's own messages. This
module holds what is pure: the states, the refusals with their reason codes, the timing.

States: ``OPEN`` (nobody holds it) → ``CLAIMED`` (one officer holds it) → ``PROPOSED`` (the holder
proposed; waiting for a second officer) → ``CONFIRMED`` (the second officer agreed; the decision
goes on) — or back to ``CLAIMED`` when the second officer sends the proposal back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from common.kernel.working_time import WorkingCalendar


class ReviewState(StrEnum):
    OPEN = "OPEN"
    CLAIMED = "CLAIMED"
    PROPOSED = "PROPOSED"
    CONFIRMED = "CONFIRMED"


class Outcome(StrEnum):
    """Which of three states an officer's action reached (every answer says it)."""

    DONE = "done"
    WAITING = "waiting_for_second_officer"
    REFUSED = "refused"


class Timing(StrEnum):
    ON_TIME = "on_time"
    AT_RISK = "at_risk"
    OVERDUE = "overdue"


#: Reason codes of a refused action (``409``, ``errors.reason``), with what the officer is told.
REFUSALS: dict[str, str] = {
    "NOT_REFERRED": "This application is not waiting for a review.",
    "CLAIMED_BY_ANOTHER": "Another officer has claimed this review.",
    "NOT_CLAIMED_BY_YOU": "Claim the review before proposing a decision.",
    "PROPOSAL_PENDING": "A proposal is waiting for a second officer: confirm it or send it back.",
    "NO_PROPOSAL": "There is no proposal to confirm or send back.",
    "SELF_CONFIRMATION": "The officer who proposed a decision cannot confirm it or send it back: "
                         "a second officer must.",
    "ESCALATED_TO_SUPERVISOR": "This review is overdue and was escalated: a supervisor decides it now.",
}


class ReviewRefused(Exception):
    """An officer's action the review's state does not allow; ``reason`` is a code of :data:`REFUSALS`."""

    def __init__(self, reason: str) -> None:
        super().__init__(REFUSALS[reason])
        self.reason = reason


@dataclass(frozen=True)
class Officer:
    """Who acts: the signed-in username, and whether the role may decide escalated reviews."""

    username: str
    supervisor: bool = False


@dataclass(frozen=True)
class Proposal:
    """An officer's proposed decision. An approval may lower the amount or shorten the duration
    (never raise them: that would be a new application); a rejection states its reasons."""

    decision: str
    note: str
    reasons: tuple[str, ...] = ()
    amount: str | None = None
    duration_months: int | None = None

    def errors(self, requested_amount: str, requested_months: int) -> dict[str, list[str]]:
        """Field errors against the application (empty: acceptable)."""
        errors: dict[str, list[str]] = {}
        if self.decision == "REJECT":
            if not self.reasons:
                errors["reasons"] = ["A rejection states at least one reason for the applicant."]
            for name in ("amount", "duration_months"):
                if getattr(self, name) is not None:
                    errors[name] = ["Only an approval sets an amount or a duration."]
        if self.amount is not None and Decimal(self.amount) > Decimal(requested_amount):
            errors["amount"] = [f"An approval may lower the amount, not raise it (requested {requested_amount})."]
        if self.duration_months is not None and self.duration_months > requested_months:
            errors["duration_months"] = [f"An approval may shorten the duration, not lengthen it "
                                         f"(requested {requested_months} months)."]
        return errors

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "note": self.note, "reasons": list(self.reasons),
                "amount": self.amount, "duration_months": self.duration_months}


@dataclass(frozen=True)
class ReviewTerms:
    """How long a review may take, in working hours, and when it counts as at risk."""

    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    hours: float = 8.0
    #: At risk when no more than this share of the review's working time is left.
    at_risk_fraction: float = 0.25

    def due(self, referred_at: datetime) -> datetime:
        return self.calendar.add(referred_at, self.hours)

    def timing(self, due_at: datetime, now: datetime) -> Timing:
        """On time, at risk (little working time left) or overdue."""
        if now >= due_at:
            return Timing.OVERDUE
        left = self.calendar.between(now, due_at)
        return Timing.AT_RISK if left <= timedelta(hours=self.hours * self.at_risk_fraction) else Timing.ON_TIME


def new_review(reasons: list[dict[str, Any]], round_: int, now: datetime, due_at: datetime) -> dict[str, Any]:
    """The review of a referral just made (JSON-simple, as stored and shown)."""
    return {"state": ReviewState.OPEN.value, "round": round_, "reasons": reasons,
            "referred_at": now.isoformat(), "due_at": due_at.isoformat(), "escalated_at": None,
            "claimed_by": None, "claimed_at": None, "proposal": None, "confirmed_by": None,
            "events": [{"action": "referred", "by": "policy", "at": now.isoformat()}]}


def due_at(review: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(review["due_at"])

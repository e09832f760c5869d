"""The officers' review as methods of the application aggregate (a mixin of
:class:`~loan_app.domain.model.Application`).

Kept apart from the saga's module so that each stays readable; the values, states, refusals and
timing are in :mod:`loan_app.domain.review`. Every method changes the review under the
application's row lock (the command loads it locked), appends the action with who took it, and
raises :class:`~loan_app.domain.review.ReviewRefused` with a reason code when the review's state
does not allow it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from loan_app.domain.review import Officer, Proposal, ReviewRefused, ReviewState, ReviewTerms, new_review
from loan_app.domain.status import Status

if TYPE_CHECKING:
    from loan_app.domain.timeline import Deadlines


class OfficersReview:
    """Claim, propose, confirm or send back, escalate: the review's transitions."""

    # Provided by the aggregate.
    review: dict[str, Any] | None
    round: int
    updated_at: datetime
    decision: dict[str, Any] | None
    requested_information: list[dict[str, Any]] | None

    @property
    def state(self) -> Status:  # pragma: no cover - the aggregate's own
        raise NotImplementedError

    def _move(self, target: Status, now: datetime, cause: str, *,
              deadline: datetime | None) -> None:  # pragma: no cover - the aggregate's own
        raise NotImplementedError

    def _ask_decision(self, review: dict[str, Any] | None = None) -> None:  # pragma: no cover
        raise NotImplementedError

    def _refer(self, round_: int, decision: dict[str, Any], now: datetime, terms: ReviewTerms) -> None:
        """DECIDING → REFERRED: the policy found the application close to a limit; officers decide.

        No deadline on the status: the expiry job must never decide or end a review (it is
        escalated when overdue). A review round (after the officers' confirmation) is never
        referred again.
        """
        if self.review is not None:
            return
        self.decision, self.requested_information = decision, None
        self.review = new_review(list(decision.get("reasons") or []), round_, now, terms.due(now))
        self._move(Status.REFERRED, now, "referred to an officer", deadline=None)

    def _review_announced(self, target: Status) -> dict[str, Any]:
        """What ``ApplicationStatusChanged`` tells of the review: its due time, on the referral."""
        if target is not Status.REFERRED or self.review is None:
            return {}
        return {"review": {"due_at": self.review["due_at"]}}

    def claim_review(self, officer: Officer, now: datetime) -> None:
        """An officer takes the review (again: no change). A supervisor takes over an escalated one.

        Raises:
          ReviewRefused: ``NOT_REFERRED``, ``ESCALATED_TO_SUPERVISOR``, ``PROPOSAL_PENDING``,
            ``CLAIMED_BY_ANOTHER``.
        """
        review = self._review_for(officer)
        if review["state"] == ReviewState.PROPOSED:
            raise ReviewRefused("PROPOSAL_PENDING")
        holder = review["claimed_by"]
        if holder == officer.username:
            return
        if holder is not None and not (review["escalated_at"] and officer.supervisor):
            raise ReviewRefused("CLAIMED_BY_ANOTHER")
        self._change_review(officer, now, "claimed", state=ReviewState.CLAIMED.value,
                            claimed_by=officer.username, claimed_at=now.isoformat())

    def propose_review(self, officer: Officer, proposal: Proposal, now: datetime) -> None:
        """The officer holding the review proposes a decision; a second officer must confirm it.

        Raises:
          ReviewRefused: ``NOT_REFERRED``, ``ESCALATED_TO_SUPERVISOR``, ``PROPOSAL_PENDING``,
            ``NOT_CLAIMED_BY_YOU``.
        """
        review = self._review_for(officer)
        if review["state"] == ReviewState.PROPOSED:
            raise ReviewRefused("PROPOSAL_PENDING")
        if review["claimed_by"] != officer.username:
            raise ReviewRefused("NOT_CLAIMED_BY_YOU")
        proposed = {**proposal.to_dict(), "proposed_by": officer.username, "proposed_at": now.isoformat()}
        self._change_review(officer, now, "proposed", note=proposal.note, state=ReviewState.PROPOSED.value,
                            proposal=proposed)

    def confirm_review(self, officer: Officer, note: str, now: datetime, deadlines: Deadlines) -> None:
        """A second officer confirms the proposal: the decision goes on with the officers' terms.

        The decision service decides the new round (it recomputes an approval's offer by the same
        rules, and rejects it if a limit is still breached): REFERRED → DECIDING → APPROVED or
        REJECTED, as for any decision.

        Raises:
          ReviewRefused: ``NOT_REFERRED``, ``ESCALATED_TO_SUPERVISOR``, ``NO_PROPOSAL``,
            ``SELF_CONFIRMATION``.
        """
        proposal = self._proposal_for_second_officer(officer)
        self._change_review(officer, now, "confirmed", note=note, state=ReviewState.CONFIRMED.value,
                            confirmed_by=officer.username)
        self.round += 1
        self._move(Status.DECIDING, now, "review confirmed by a second officer", deadline=now + deadlines.step)
        self._ask_decision(review={**proposal, "confirmed_by": officer.username})

    def send_back_review(self, officer: Officer, note: str, now: datetime) -> None:
        """A second officer disagrees: the proposal goes back to the officer who made it.

        Raises:
          ReviewRefused: ``NOT_REFERRED``, ``ESCALATED_TO_SUPERVISOR``, ``NO_PROPOSAL``,
            ``SELF_CONFIRMATION``.
        """
        proposal = self._proposal_for_second_officer(officer)
        self._change_review(officer, now, "sent back", note=note, state=ReviewState.CLAIMED.value,
                            proposal=None, claimed_by=proposal["proposed_by"])

    def escalate_if_overdue(self, now: datetime) -> bool:
        """Past its due time, a review goes to the supervisors (once); nothing is decided. True if escalated."""
        review = self.review
        if self.state is not Status.REFERRED or review is None or review["escalated_at"]:
            return False
        if now < datetime.fromisoformat(review["due_at"]):
            return False
        self._change_review(Officer("system"), now, "escalated", escalated_at=now.isoformat())
        return True

    def _proposal_for_second_officer(self, officer: Officer) -> dict[str, Any]:
        """The pending proposal, if ``officer`` may confirm or send it back (four eyes: not its author)."""
        review = self._review_for(officer)
        proposal: dict[str, Any] | None = review["proposal"]
        if review["state"] != ReviewState.PROPOSED or proposal is None:
            raise ReviewRefused("NO_PROPOSAL")
        if proposal["proposed_by"] == officer.username:
            raise ReviewRefused("SELF_CONFIRMATION")
        return proposal

    def _review_for(self, officer: Officer) -> dict[str, Any]:
        if self.state is not Status.REFERRED or self.review is None:
            raise ReviewRefused("NOT_REFERRED")
        if self.review["escalated_at"] and not officer.supervisor:
            raise ReviewRefused("ESCALATED_TO_SUPERVISOR")
        return self.review

    def _change_review(self, officer: Officer, now: datetime, action: str, *, note: str = "",
                       **changes: Any) -> None:
        # Reassign, never mutate: the ORM tracks JSON columns by assignment only.
        review = self.review or {}
        event = {"action": action, "by": officer.username, "at": now.isoformat(), **({"note": note} if note else {})}
        self.review = {**review, **changes, "events": [*review.get("events", []), event]}
        self.updated_at = now

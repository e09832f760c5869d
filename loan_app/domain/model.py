"""The application aggregate: the saga's state, owned by loan_app, as plain Python.

Every method takes ``now`` and returns nothing; what must happen elsewhere is recorded
(:class:`~common.messaging.recorder.RecordsMessages`) as catalogue messages (``CheckCredit``,
``ApplicationStatusChanged``, …), and the unit of work writes them to the outbox when it commits
the state. Messages that arrive late, twice, for an old evaluation round, or in a state that does
not expect them are ignored: the state machine in :mod:`loan_app.domain.status` is the single guard.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from common.kernel.privacy import erase
from common.messaging.recorder import RecordsMessages
from loan_app.domain.access import ApplicantAccess
from loan_app.domain.reviewing import OfficersReview
from loan_app.domain.status import TERMINAL, InvalidTransition, NotEnded, Status, can_move
from loan_app.domain.timeline import Deadlines, Transition

__all__ = ["Application", "Deadlines", "Transition"]


class Application(RecordsMessages, ApplicantAccess, OfficersReview):
    """A home-loan application and the progress of its evaluation.

    Attributes hold JSON-simple values (strings for money) so that they can be stored and sent
    as they are; the amounts are parsed to ``Decimal`` where maths needs them (decision_app).
    Which applicant tokens open it: :class:`~loan_app.domain.access.ApplicantAccess`; the officers'
    review of a referral: :class:`~loan_app.domain.reviewing.OfficersReview`.
    """

    def __init__(
        self,
        id: str,
        applicant: dict[str, Any],
        property: dict[str, Any],
        amount: Decimal,
        duration_months: int,
        correlation_id: str,
        now: datetime,
        deadlines: Deadlines,
    ) -> None:
        self.id = id
        self.applicant = applicant
        self.property = property
        self.amount = amount
        self.duration_months = duration_months
        self.correlation_id = correlation_id
        self.status = Status.SUBMITTED.value
        self.created_at = now
        self.updated_at = now
        self.round = 0
        self.credit: dict[str, Any] | None = None
        self.valuation: dict[str, Any] | None = None
        self.decision: dict[str, Any] | None = None
        self.requested_information: list[dict[str, Any]] | None = None
        self.information: dict[str, Any] = {}
        self.failure: dict[str, Any] | None = None
        self.compensations: list[dict[str, Any]] = []
        #: The officers' review while (and after) the application is REFERRED (loan_app.domain.review).
        self.review: dict[str, Any] | None = None
        # Even SUBMITTED has a deadline: an application stored SUBMITTED by an older version, whose
        # own ApplicationSubmitted started the evaluation, is ended by the expiry job, not kept forever.
        self.deadline: datetime | None = now + deadlines.step
        #: The transitions known to this object: all of them when it was loaded with its history,
        #: else only those made since it was loaded; ``seq`` numbers the last one either way.
        self.history: list[Transition] = []
        self.seq = 0
        self.open_access()
        self._record(None, Status.SUBMITTED, now, "application submitted")
        self.record("ApplicationSubmitted", {
            "summary": self.summary(),
            "contact": {"full_name": applicant["full_name"], "email": applicant["email"],
                        "language": applicant.get("language", "en")},
        })

    # --- queries -----------------------------------------------------------------------------

    @property
    def application_id(self) -> str:
        """The id its messages carry (the aggregate's own id)."""
        return self.id

    @property
    def state(self) -> Status:
        return Status(self.status)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def summary(self) -> dict[str, Any]:
        """What the live dashboard shows of an application (no personal data)."""
        return {"amount": str(self.amount), "duration_months": self.duration_months,
                **{key: self.property[key] for key in ("city", "postcode", "kind")},
                "employment_status": self.applicant["employment_status"]}

    # --- the saga ----------------------------------------------------------------------------

    def start_evaluation(self, now: datetime, deadlines: Deadlines) -> None:
        """SUBMITTED → EVALUATING: ask for the credit check and the valuation, in parallel.

        The submission calls it on the new application before its first commit
        (:func:`loan_app.commands.submit`), so both transitions and both steps leave in one outbox
        write: no message from loan_app to itself, no broker round trip before the saga starts.
        """
        if self.state is not Status.SUBMITTED:
            return
        self.round = 1
        self.credit = {"status": "PENDING"}
        self.valuation = {"status": "PENDING"}
        self._move(Status.EVALUATING, now, "evaluation started", deadline=now + deadlines.step)
        self.record("CheckCredit", {"applicant": self._applicant_for_credit(), "round": 1})
        self.record("ValueProperty", {"property": dict(self.property), "loan_amount": str(self.amount), "round": 1})

    def record_credit(self, round_: int, inquiry_id: str, assessment: dict[str, Any], now: datetime,
                      deadlines: Deadlines) -> None:
        """The credit check finished; decide once the valuation has too."""
        if self.terminal or self.credit is None or self.credit.get("status") != "PENDING" or round_ != 1:
            return
        self.credit = {"status": "DONE", "inquiry_id": inquiry_id, **assessment}
        self._request_decision_if_ready(now, deadlines)

    def record_valuation(self, round_: int, valuation: dict[str, Any], now: datetime, deadlines: Deadlines) -> None:
        """The valuation finished; decide once the credit check has too."""
        if self.terminal or self.valuation is None or self.valuation.get("status") != "PENDING" or round_ != 1:
            return
        self.valuation = {"status": "DONE", **valuation}
        self._request_decision_if_ready(now, deadlines)

    def step_failed(self, step: str, code: str, message: str, now: datetime) -> None:
        """A step failed for good: compensate what ran and end FAILED."""
        result = self.credit if step == "credit" else self.valuation
        if self.terminal or result is None or result.get("status") != "PENDING":
            return
        # Reassign, never mutate: the ORM tracks JSON columns by assignment only.
        failed = {**result, "status": "FAILED", "code": code}
        if step == "credit":
            self.credit = failed
        else:
            self.valuation = failed
        self._fail(code, message, now, cause=f"{step} step failed")

    def record_decision(self, round_: int, decision: dict[str, Any], now: datetime, deadlines: Deadlines) -> None:
        """The decision service answered: approve, reject, or ask the applicant for more."""
        if self.state is not Status.DECIDING or round_ != self.round:
            return
        outcome = Status(decision["outcome"])
        if outcome is Status.REFERRED:
            self._refer(round_, decision, now, deadlines.review)
            return
        self.decision = decision
        if outcome is Status.INFO_REQUESTED:
            self.requested_information = list(decision.get("requested_information") or [])
            self._move(outcome, now, "more information needed", deadline=now + deadlines.information)
        else:
            self.requested_information = None
            self._move(outcome, now, "decision made", deadline=None)

    def decision_failed(self, round_: int, code: str, message: str, now: datetime) -> None:
        """The decision service gave up on this round: compensate and end FAILED (not at the deadline)."""
        if self.state is not Status.DECIDING or round_ != self.round:
            return
        self._fail(code, message, now, cause="decision step failed")

    def supply_information(self, answers: dict[str, str], now: datetime, deadlines: Deadlines) -> None:
        """The applicant answered: resume the evaluation with a new decision round.

        Raises:
          InvalidTransition: the application is not waiting for information.
        """
        if self.state is not Status.INFO_REQUESTED:
            raise InvalidTransition(self.state, Status.EVALUATING)
        self.information = {**self.information, **answers}
        self.requested_information = None
        self._move(Status.EVALUATING, now, "information supplied", deadline=now + deadlines.step)
        self._request_decision_if_ready(now, deadlines)

    def withdraw(self, now: datetime) -> None:
        """The applicant withdraws; whatever ran is compensated.

        Raises:
          InvalidTransition: the application already ended.
        """
        if self.terminal:
            raise InvalidTransition(self.state, Status.WITHDRAWN)
        self._compensate("withdrawn by the applicant")
        self._move(Status.WITHDRAWN, now, "withdrawn by the applicant", deadline=None)

    def expire_if_overdue(self, now: datetime) -> bool:
        """End an application whose current wait passed its deadline; True if it ended."""
        if self.terminal or self.deadline is None or now < self.deadline:
            return False
        if self.state is Status.INFO_REQUESTED:
            self._move(Status.EXPIRED, now, "requested information not supplied in time", deadline=None)
        else:
            self._fail("STEP_TIMEOUT", "The evaluation took too long and was stopped.", now,
                       cause=f"deadline passed while {self.status}")
        return True

    def record_compensation(self, step: str, detail: dict[str, Any], now: datetime) -> None:
        """A compensation finished (e.g. the credit inquiry was cancelled)."""
        if step == "credit" and self.credit is not None:
            self.credit = {**self.credit, "cancelled": True}
        self.compensations = [*self.compensations, {"step": step, "done_at": now.isoformat(), **detail}]

    def erase_personal_data(self, request: dict[str, Any]) -> None:
        """Forget who applied and the property's address; keep what statistics and the audit need
        (status, amounts, decision, reasons, history). Announced to the services holding copies.

        Raises:
          NotEnded: the evaluation still runs (its messages would carry the data again).
        """
        if not self.terminal:
            raise NotEnded(self.state)
        self.applicant, self.property = erase(self.applicant), erase(self.property)
        self.review, self.decision = erase(self.review), erase(self.decision)  # the officers' notes
        self.record("PersonalDataErasureRequested", request)

    # --- internals ---------------------------------------------------------------------------

    def _request_decision_if_ready(self, now: datetime, deadlines: Deadlines) -> None:
        if not (_done(self.credit) and _done(self.valuation)):
            return
        if self.state is Status.EVALUATING and self.information:
            self.round += 1
        self._move(Status.DECIDING, now, "credit check and valuation done", deadline=now + deadlines.step)
        self._ask_decision()

    def _ask_decision(self, review: dict[str, Any] | None = None) -> None:
        """``MakeDecision`` for the current round: by the rules, or (``review``) on the officers' terms."""
        self.record("MakeDecision", {
            "loan": {"amount": str(self.amount), "duration_months": self.duration_months},
            "applicant": {key: self.applicant[key] for key in ("employment_status", "monthly_income", "monthly_debts")},
            "credit": _without_status(self.credit),
            "valuation": _without_status(self.valuation),
            "information": dict(self.information),
            "round": self.round,
            **({"review": review} if review is not None else {}),
        })

    def _fail(self, code: str, message: str, now: datetime, cause: str) -> None:
        self.failure = {"code": code, "message": message}
        self._compensate(f"application failed: {code}")
        self._move(Status.FAILED, now, cause, deadline=None)

    def _compensate(self, reason: str) -> None:
        # Compensations in reverse order of the steps. Only the credit inquiry leaves a trace
        # outside loan_app (the valuation and the decision are pure reads), so only it is undone.
        # A check still PENDING is cancelled too: the credit service then refuses to run it, or
        # cancels the bureau inquiry it was making.
        if self.credit is not None and self.credit.get("status") in ("PENDING", "DONE"):
            self.record("CancelCreditInquiry", {"reason": reason})

    def _applicant_for_credit(self) -> dict[str, Any]:
        keys = ("full_name", "birth_date", "employment_status", "monthly_income", "monthly_debts")
        return {key: self.applicant[key] for key in keys}

    def _move(self, target: Status, now: datetime, cause: str, *, deadline: datetime | None) -> None:
        if not can_move(self.state, target):
            raise InvalidTransition(self.state, target)
        previous = self.state
        self.status = target.value
        self.deadline = deadline
        if target in TERMINAL:
            self.ended_at = now  # applicant tokens expire a while after it (common.web.applicant_access)
        self._record(previous, target, now, cause)

    def _record(self, previous: Status | None, target: Status, now: datetime, cause: str) -> None:
        self.updated_at = now
        self.seq += 1
        transition = Transition(seq=self.seq, from_status=previous.value if previous else None,
                                to_status=target.value, at=now, cause=cause)
        self.history = [*self.history, transition]
        decision = self.decision or {}
        self.record("ApplicationStatusChanged", {
            "seq": transition.seq,
            "status": target.value,
            "previous_status": transition.from_status,
            "cause": cause,
            "at": now.isoformat(),
            "reasons": list(decision.get("reasons") or []) + ([self.failure] if self.failure else []),
            "offer": decision.get("offer") if target is Status.APPROVED else None,
            "requested_information": list(self.requested_information or []) if target is Status.INFO_REQUESTED else [],
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "summary": self.summary(),
            **self._review_announced(target),
        })


def _done(step: dict[str, Any] | None) -> bool:
    return step is not None and step.get("status") == "DONE"


def _without_status(step: dict[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (step or {}).items() if key != "status"}

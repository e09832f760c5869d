"""loan_app's review commands and queries: the officers' queue, claim, propose, confirm, send back.

Each command opens one unit of work, loads the application with its row locked (a saga message or
another officer cannot slip in between), asks the aggregate (:mod:`loan_app.domain.reviewing`),
writes the audit record with the signed-in identity in the same transaction, and commits.
Refusals are exceptions the views turn into answers: ``NotFound`` (404),
:class:`~loan_app.domain.review.ReviewRefused` (409 with its reason code), :class:`InvalidProposal`
(422). The periodic :func:`escalate_overdue` runs in loan's worker next to the expiry job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from common.kernel.clock import utcnow
from common.operations.commands import audit
from common.service.runtime import Runtime
from loan_app.adapters.orm import applications
from loan_app.commands import bound_deadlines, load_locked, unit_of_work
from loan_app.domain.model import Application
from loan_app.domain.review import Officer, Proposal, ReviewTerms, Timing, due_at
from loan_app.domain.status import Status

log = logging.getLogger(__name__)


class InvalidProposal(ValueError):
    """A proposal the application does not allow (e.g. a higher amount); ``errors`` names each field."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid proposal")
        self.errors = errors


def claim(rt: Runtime, application_id: str, officer: Officer) -> Application:
    """The officer takes the review (raises ``NotFound``, ``ReviewRefused``)."""
    return _act(rt, application_id, officer, "review_claim", {},
                lambda application, now: application.claim_review(officer, now))


def propose(rt: Runtime, application_id: str, officer: Officer, proposal: Proposal) -> Application:
    """The officer holding the review proposes (raises ``NotFound``, ``ReviewRefused``, :class:`InvalidProposal`)."""

    def change(application: Application, now: datetime) -> None:
        errors = proposal.errors(str(application.amount), application.duration_months)
        if errors:
            raise InvalidProposal(errors)
        application.propose_review(officer, proposal, now)

    return _act(rt, application_id, officer, "review_propose", proposal.to_dict(), change)


def confirm(rt: Runtime, application_id: str, officer: Officer, note: str) -> Application:
    """A second officer confirms: the decision goes on (raises ``NotFound``, ``ReviewRefused``)."""
    limits = bound_deadlines(rt)
    return _act(rt, application_id, officer, "review_confirm", {"note": note},
                lambda application, now: application.confirm_review(officer, note, now, limits))


def send_back(rt: Runtime, application_id: str, officer: Officer, note: str) -> Application:
    """A second officer sends the proposal back (raises ``NotFound``, ``ReviewRefused``)."""
    return _act(rt, application_id, officer, "review_send_back", {"note": note},
                lambda application, now: application.send_back_review(officer, note, now))


def escalate_overdue(rt: Runtime) -> int:
    """Periodic: escalate every review past its due time to the supervisors; returns how many.

    Never decides: the application stays ``REFERRED``; the escalation is audited (by ``system``).
    """
    now, escalated = utcnow(), 0
    with rt.session_factory() as session:
        rows = session.execute(select(applications.c.id, applications.c.review)
                               .where(applications.c.status == Status.REFERRED.value)).all()
    for application_id, review in rows:
        if not review or review.get("escalated_at") or now < due_at(review):
            continue
        with unit_of_work(rt) as uow:
            application = uow.applications.get(application_id, for_update=True)
            if application is not None and application.escalate_if_overdue(now):
                audit(rt, uow.session, "system", "review_escalate", application_id, due_at=review["due_at"])
                uow.commit()
                escalated += 1
                log.warning("review of %s overdue since %s: escalated to the supervisors",
                            application_id, review["due_at"])
    return escalated


def referrals(rt: Runtime, now: datetime | None = None) -> list[dict[str, Any]]:
    """The officers' queue: every referred application, the soonest due first, with its timing."""
    now, terms = now or utcnow(), bound_deadlines(rt).review
    columns = (applications.c.id, applications.c.status, applications.c.amount, applications.c.duration_months,
               applications.c.property, applications.c.applicant, applications.c.decision, applications.c.review,
               applications.c.updated_at)
    with rt.session_factory() as session:
        rows = session.execute(select(*columns).where(applications.c.status == Status.REFERRED.value)).all()
    items = [_referral(row, terms, now) for row in rows if row.review]
    return sorted(items, key=lambda item: item["due_at"])


def _referral(row: Any, terms: ReviewTerms, now: datetime) -> dict[str, Any]:
    review, decision = row.review, row.decision or {}
    due = due_at(review)
    return {
        "id": row.id, "status": row.status, "amount": str(row.amount), "duration_months": row.duration_months,
        "summary": {"city": row.property.get("city"), "kind": row.property.get("kind"),
                    "employment_status": row.applicant.get("employment_status")},
        "referred_at": review["referred_at"], "due_at": due.isoformat(),
        "timing": terms.timing(due, now).value, "escalated": bool(review.get("escalated_at")),
        "escalated_at": review.get("escalated_at"),
        "reasons": review.get("reasons", []),
        "explanation": {key: decision.get(key) for key in ("inputs", "rules", "referral", "policy_version")},
        "offer": decision.get("offer"),
        "review": {key: review.get(key) for key in ("state", "claimed_by", "claimed_at", "proposal", "confirmed_by",
                                                    "events")},
    }


def timing_counts(rt: Runtime, now: datetime | None = None) -> dict[tuple[str, bool], int]:
    """Referrals by (timing, escalated), for the metrics: from the reviews alone (a scrape reads
    no applicant, property or decision of the queue's rows)."""
    now, terms = now or utcnow(), bound_deadlines(rt).review
    counts = {(timing.value, escalated): 0 for timing in Timing for escalated in (False, True)}
    for review in _waiting_reviews(rt):
        counts[(terms.timing(due_at(review), now).value, bool(review.get("escalated_at")))] += 1
    return counts


def _waiting_reviews(rt: Runtime) -> list[dict[str, Any]]:
    """The reviews of the applications waiting for officers (status REFERRED)."""
    with rt.session_factory() as session:
        reviews = session.scalars(select(applications.c.review)
                                  .where(applications.c.status == Status.REFERRED.value)).all()
    return [review for review in reviews if review]


def _act(rt: Runtime, application_id: str, officer: Officer, action: str, detail: dict[str, Any],
         change: Callable[[Application, datetime], None]) -> Application:
    with unit_of_work(rt) as uow:
        application = load_locked(uow, application_id)
        change(application, utcnow())
        audit(rt, uow.session, officer.username, action, application_id, **detail)
        uow.commit()
    return application

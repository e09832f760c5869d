"""HTTP views of the officers' review: ``GET /loan/referrals`` and the actions on one application.

Every answer says which of three states the action reached: ``done``, ``waiting_for_second_officer``
(a proposal waits for a second officer) or ``refused`` (``409``; ``errors.reason`` says why, e.g.
``SELF_CONFIRMATION``). Officers and supervisors (and admins) only; supervisors alone act on a
review escalated past its due time.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import abort

from common.identity.roles import OFFICER, SUPERVISING
from common.web.blueprint import Blueprint
from common.web.context import current_caller, runtime
from loan_app import commands, reviews
from loan_app.domain.model import Application
from loan_app.domain.review import Officer, Outcome, Proposal, ReviewRefused
from loan_app.resources.reviews.schemas import (
    NoteSchema,
    ProposalSchema,
    ReferralQuerySchema,
    ReferralSchema,
    ReviewAnswerSchema,
    SendBackSchema,
)

PROPOSAL, NOTE, SEND_BACK, QUERY = ProposalSchema(), NoteSchema(), SendBackSchema(), ReferralQuerySchema()
REFUSED_409 = ("Refused: `errors.outcome` is `refused` and `errors.reason` one of NOT_REFERRED, CLAIMED_BY_ANOTHER, "
               "NOT_CLAIMED_BY_YOU, PROPOSAL_PENDING, NO_PROPOSAL, SELF_CONFIRMATION, ESCALATED_TO_SUPERVISOR.")

blp = Blueprint("reviews", __name__, url_prefix="/loan",
                description="Officers: the referral queue, and the four-eyes review of each referral.")


def _officer() -> Officer:
    caller = current_caller()
    return Officer(caller.username or "", supervisor=caller.role in SUPERVISING)


def _answer(application: Application, outcome: Outcome) -> dict[str, Any]:
    return {"outcome": outcome.value, "id": application.id, "status": application.status,
            "review": application.review}


def _run(action: Any, application_id: Any, *args: Any) -> Application:
    try:
        return action(runtime(), str(application_id), _officer(), *args)  # type: ignore[no-any-return]
    except commands.NotFound:
        abort(404, message="Application not found.")
    except ReviewRefused as refused:
        abort(409, message=str(refused), errors={"outcome": Outcome.REFUSED.value, "reason": refused.reason})
    except reviews.InvalidProposal as invalid:
        abort(422, message="The proposal does not fit this application.",
              errors={"json": invalid.errors, "outcome": Outcome.REFUSED.value})
    raise AssertionError("unreachable")  # pragma: no cover - abort raises


@blp.route("/referrals")
class Referrals(MethodView):
    @blp.staff_only(OFFICER)
    @blp.arguments(QUERY, location="query")
    @blp.response(200, ReferralSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """The officers' queue (officer)

        Referred applications, the soonest due first: referral reasons, the decision's explanation
        (every rule with value and threshold, DTI, LTV, score, the bands hit), the offer approval
        would give, the due time in working hours and its ``timing`` (``on_time``, ``at_risk``,
        ``overdue``), escalation, and the review's state. Filter by ``timing``, ``state``, ``escalated``.
        """
        items = reviews.referrals(runtime())
        return [item for item in items
                if all(args[key] == (item["review"]["state"] if key == "state" else item[key]) for key in args)]


@blp.route("/applications/<uuid:application_id>/review/claim")
class ReviewClaim(MethodView):
    @blp.staff_only(OFFICER)
    @blp.response(200, ReviewAnswerSchema)
    @blp.errors(404, 409, e409=REFUSED_409)
    def post(self, application_id: Any) -> Any:
        """Claim a referral's review (officer)

        The review is then yours to propose a decision on; claiming it again changes nothing. A
        supervisor may take over an escalated review from whoever held it.
        """
        return _answer(_run(reviews.claim, application_id), Outcome.DONE)


@blp.route("/applications/<uuid:application_id>/review")
class ReviewProposal(MethodView):
    @blp.staff_only(OFFICER)
    @blp.arguments(PROPOSAL)
    @blp.response(200, ReviewAnswerSchema)
    @blp.errors(400, 404, 409, 413, 415, e409=REFUSED_409)
    def post(self, data: dict[str, Any], application_id: Any) -> Any:
        """Propose a decision (officer holding the review)

        ``APPROVE`` (optionally with a lower ``amount`` or a shorter ``duration_months``: the offer
        is recomputed to the cent by the policy's rules) or ``REJECT`` (with ``reasons`` for the
        applicant). Not final: the answer is ``waiting_for_second_officer`` until another officer
        confirms it.
        """
        amount = data["amount"]
        proposal = Proposal(decision=data["decision"], note=data["note"], reasons=tuple(data["reasons"]),
                            amount=str(amount) if amount is not None else None,
                            duration_months=data["duration_months"])
        return _answer(_run(reviews.propose, application_id, proposal), Outcome.WAITING)


@blp.route("/applications/<uuid:application_id>/review/confirm")
class ReviewConfirmation(MethodView):
    @blp.staff_only(OFFICER)
    @blp.arguments(NOTE)
    @blp.response(200, ReviewAnswerSchema)
    @blp.errors(400, 404, 409, 413, 415, e409=REFUSED_409)
    def post(self, data: dict[str, Any], application_id: Any) -> Any:
        """Confirm a proposal (a second officer)

        The proposer confirming their own proposal is refused (``409``, ``SELF_CONFIRMATION``).
        Confirmed, the decision goes on: an approval's offer, documents and e-mail as for any
        approval, or ``REJECTED`` with the officers' reasons.
        """
        return _answer(_run(reviews.confirm, application_id, data["note"]), Outcome.DONE)


@blp.route("/applications/<uuid:application_id>/review/send-back")
class ReviewSendBack(MethodView):
    @blp.staff_only(OFFICER)
    @blp.arguments(SEND_BACK)
    @blp.response(200, ReviewAnswerSchema)
    @blp.errors(400, 404, 409, 413, 415, e409=REFUSED_409)
    def post(self, data: dict[str, Any], application_id: Any) -> Any:
        """Send a proposal back (a second officer)

        With a ``note`` saying why; the review returns to the officer who proposed.
        """
        return _answer(_run(reviews.send_back, application_id, data["note"]), Outcome.DONE)

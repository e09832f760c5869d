"""Marshmallow schemas of the officers' review: the queue, a proposal, a confirmation, the answers.

Unknown fields are refused (422 naming them). Free text is bounded and one paragraph of visible
characters; the note is for the second officer and the audit, the reasons are shown to the
applicant on a rejection.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from loan_app.domain.review import Outcome, ReviewState, Timing
from loan_app.resources.applications.fields import MAX_MONEY, TwoPlaces, one_line_text, optional_visible_text

DECISIONS = ("APPROVE", "REJECT")
MAX_NOTE = 2000
MAX_REASONS = 10


class ProposalSchema(ma.Schema):
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    note = one_line_text(MAX_NOTE)
    reasons = fields.List(one_line_text(500), validate=validate.Length(max=MAX_REASONS), load_default=list,
                          metadata={"description": "Shown to the applicant; at least one for a rejection."})
    amount = TwoPlaces(allow_none=True, load_default=None, validate=validate.Range(min=1000, max=MAX_MONEY),
                       metadata={"description": "An approval may lower the amount (never raise it)."})
    duration_months = fields.Integer(allow_none=True, load_default=None, strict=True,
                                     validate=validate.Range(min=12, max=600),
                                     metadata={"description": "An approval may shorten the duration."})


class NoteSchema(ma.Schema):
    note = optional_visible_text(MAX_NOTE)


class SendBackSchema(ma.Schema):
    note = one_line_text(MAX_NOTE)


class ReviewSchema(ma.Schema):
    state = fields.String(metadata={"enum": [s.value for s in ReviewState]})
    claimed_by = fields.String(allow_none=True)
    claimed_at = fields.String(allow_none=True)
    proposal = fields.Dict(allow_none=True)
    confirmed_by = fields.String(allow_none=True)
    events = fields.List(fields.Dict())


class ReviewAnswerSchema(ma.Schema):
    """What every accepted review action answers: which state it reached, and the review now."""

    outcome = fields.String(metadata={"enum": [Outcome.DONE.value, Outcome.WAITING.value],
                                      "description": "`done`, or `waiting_for_second_officer` after a proposal; "
                                                     "a refused action answers 409 with `errors.outcome` "
                                                     "`refused`."})
    id = fields.String()
    status = fields.String()
    review = fields.Nested(ReviewSchema)


class ReferralSchema(ma.Schema):
    id = fields.String()
    status = fields.String()
    amount = fields.String()
    duration_months = fields.Integer()
    summary = fields.Dict()
    referred_at = fields.String()
    due_at = fields.String()
    timing = fields.String(metadata={"enum": [t.value for t in Timing]})
    escalated = fields.Boolean()
    escalated_at = fields.String(allow_none=True)
    reasons = fields.List(fields.Dict())
    explanation = fields.Dict()
    offer = fields.Dict(allow_none=True)
    review = fields.Nested(ReviewSchema)


class ReferralQuerySchema(ma.Schema):
    timing = fields.String(validate=validate.OneOf([t.value for t in Timing]))
    state = fields.String(validate=validate.OneOf([s.value for s in ReviewState if s is not ReviewState.CONFIRMED]))
    escalated = fields.Boolean()

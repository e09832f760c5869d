"""The marshmallow schemas of the operations endpoints: dead letters, tasks, audit, parked outbox rows.

Validation, serialisation and OpenAPI at once, as in every service's ``resources/``. A dead
letter's message is dumped with personal data masked (:func:`common.kernel.privacy.mask`).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from common.kernel.privacy import mask
from common.messaging.deadletters import DISCARDED, PARKED, REPLAYED


class DeadLetterSchema(ma.Schema):
    id = fields.String()
    message_id = fields.String()
    queue = fields.String()
    actor = fields.String()
    message_type = fields.String(allow_none=True)
    application_id = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    retries = fields.Integer()
    replays = fields.Integer(metadata={"description": "Times replayed; it is parked again if a replay fails."})
    status = fields.String()
    parked_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)


class DeadLetterDetailSchema(DeadLetterSchema):
    traceback = fields.String(allow_none=True)
    message = fields.Method("_masked")

    def _masked(self, letter: Any) -> Any:
        return mask(letter.message)


class DeadLetterQuerySchema(ma.Schema):
    status = fields.String(validate=validate.OneOf((PARKED, REPLAYED, DISCARDED)))
    application_id = fields.UUID()


class ActionSchema(ma.Schema):
    id = fields.Integer()
    at = fields.DateTime()
    operator = fields.String()
    action = fields.String()
    target = fields.String()
    detail = fields.Dict()


class AttemptSchema(ma.Schema):
    attempt = fields.Integer()
    outcome = fields.String()
    error = fields.String()
    traceback = fields.String(allow_none=True)
    duration_ms = fields.Integer(allow_none=True)
    at = fields.DateTime()


class TaskSchema(ma.Schema):
    message_id = fields.String()
    actor = fields.String(allow_none=True)
    application_id = fields.String(allow_none=True)
    state = fields.String(metadata={"description": "succeeded, retrying or dead"})
    processed_at = fields.DateTime(allow_none=True)
    at = fields.DateTime(allow_none=True, metadata={"description": "Time of the latest attempt or success."})
    duration_ms = fields.Integer(allow_none=True)
    latency_ms = fields.Integer(allow_none=True, metadata={"description": "From the event's commit to done."})
    attempts = fields.List(fields.Nested(AttemptSchema))
    dead_letter = fields.Nested(DeadLetterSchema, allow_none=True)


class TaskQuerySchema(ma.Schema):
    application_id = fields.UUID()
    actor = fields.String(validate=validate.Length(max=128))
    state = fields.String(validate=validate.OneOf(("succeeded", "retrying", "dead")))
    since = fields.AwareDateTime(default_timezone=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class OverviewQuerySchema(ma.Schema):
    window_minutes = fields.Integer(load_default=60, validate=validate.Range(min=1, max=7 * 24 * 60))


class ParkedRowSchema(ma.Schema):
    id = fields.String()
    message_id = fields.String(allow_none=True)
    message_type = fields.String()
    queue = fields.String()
    actor = fields.String()
    application_id = fields.String(allow_none=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    parked_at = fields.DateTime()

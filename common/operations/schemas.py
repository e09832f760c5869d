"""The marshmallow schemas of the operations endpoints: dead letters, tasks, audit, parked outbox rows.

Validation, serialisation and OpenAPI at once, as in every service's ``resources/``. A dead
letter's message is dumped with personal data masked (:func:`common.kernel.privacy.mask`).
"""

from __future__ import annotations

from datetime import UTC
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


class BatchFilterSchema(ma.Schema):
    """Which parked letters a batch selects; every field narrows, none selects them all."""

    actor = fields.String(validate=validate.Length(min=1, max=128),
                          metadata={"description": "The actor's name, exact (e.g. notify.send_email)."})
    error_contains = fields.String(validate=validate.Length(min=1, max=500),
                                   metadata={"description": "A case-insensitive substring of the error."})
    since = fields.AwareDateTime(default_timezone=UTC,
                                 metadata={"description": "Parked at or after (ISO 8601; UTC if no offset)."})
    until = fields.AwareDateTime(default_timezone=UTC,
                                 metadata={"description": "Parked before (exclusive)."})
    application_id = fields.UUID()

    #: The refusal of a window ending before it starts (JSON Schema cannot say it: the fuzzer
    #: of tests/integration/test_openapi_fuzz.py drops such bodies by this message).
    WINDOW_REFUSED = "Must not be before since."

    @ma.validates_schema
    def _window(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ma.ValidationError(self.WINDOW_REFUSED, "until")


class BatchSchema(ma.Schema):
    """``POST /<svc>/dead-letters/batch``: all three fields are required, so that acting on
    every parked letter (``"filter": {}``) or for real (``"dry_run": false``) is always said."""

    action = fields.String(required=True, validate=validate.OneOf(("replay", "discard")))
    filter = fields.Nested(BatchFilterSchema, required=True)
    dry_run = fields.Boolean(required=True, truthy={True}, falsy={False},
                             metadata={"description": "Only count; act on nothing."})


class BatchResultSchema(ma.Schema):
    batch = fields.String(metadata={"description": "The batch id, in the audit of the batch and of each letter."})
    matched = fields.Integer(metadata={"description": "Parked letters the filter selects now."})
    done = fields.Integer(metadata={"description": "Letters replayed or discarded (0 on a dry run)."})
    remaining = fields.Integer(metadata={"description": "Matching letters beyond LOANFLOW_BATCH_LIMIT, not acted on."})
    skipped = fields.Integer(metadata={"description": "Selected but settled meanwhile by someone else, or failed."})
    dry_run = fields.Boolean()


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

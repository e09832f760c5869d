"""Staff endpoints every service has: its dead letters, their replay, and its task history.

``/<svc>/dead-letters`` lists what this service failed to process for good; ``replay`` sends a
message again with its original id (through the outbox), ``discard`` and ``purge`` give up on
messages. Every action is recorded in ``operator_actions`` in the same transaction as its
effect, with the operator named by the ``X-Operator`` header. ``/<svc>/tasks`` answers "what
happened to this message / to this application's messages here". Message contents are shown
with personal data masked.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import fields, validate
from sqlalchemy import func, select

from common.deadletters import DISCARDED, PARKED, REPLAYED, discard, replay
from common.http import require_staff, runtime
from common.privacy import mask

_AUTH = [{"bearer": []}]


class DeadLetterSchema(ma.Schema):
    id = fields.String()
    message_id = fields.String()
    queue = fields.String()
    actor = fields.String()
    message_type = fields.String(allow_none=True)
    application_id = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    retries = fields.Integer()
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
    attempts = fields.List(fields.Nested(AttemptSchema))
    dead_letter = fields.Nested(DeadLetterSchema, allow_none=True)


class TaskQuerySchema(ma.Schema):
    application_id = fields.UUID(required=True)


def _operator() -> str:
    name = request.headers.get("X-Operator", "").strip()[:64]
    return name or "staff"


def operations_blueprint(service: str) -> Blueprint:
    """The operations blueprint of ``service`` (a new Blueprint per service: names differ)."""
    blp = Blueprint(f"{service}_operations", __name__, url_prefix=f"/{service}",
                    description="Operators: dead letters (replay, discard, purge), task history, audit.")

    def tables() -> Any:
        return runtime().definition.tables

    def letter_or_404(session: Any, letter_id: str) -> Any:
        letter = session.get(tables().dead_letters, letter_id, with_for_update=True)
        if letter is None:
            abort(404, message="No such dead letter.")
        return letter

    def audit(uow: Any, action: str, target: str, **detail: Any) -> None:
        uow.session.add(tables().audit(operator=_operator(), action=action, target=target, detail=detail))

    @blp.route("/dead-letters")
    class DeadLetters(MethodView):
        @blp.arguments(DeadLetterQuerySchema, location="query")
        @blp.response(200, DeadLetterSchema(many=True))
        @blp.paginate()
        @blp.doc(security=_AUTH)
        def get(self, args: dict[str, Any], pagination_parameters: Any) -> Any:
            """List dead letters (staff)

            Messages this service gave up on, newest first; filter by status or application.
            """
            require_staff()
            model = tables().dead_letters
            query = select(model)
            if "status" in args:
                query = query.where(model.status == args["status"])
            if "application_id" in args:
                query = query.where(model.application_id == str(args["application_id"]))
            with runtime().session_factory() as session:
                pagination_parameters.item_count = session.scalar(
                    select(func.count()).select_from(query.subquery()))
                return session.scalars(query.order_by(model.parked_at.desc())
                                       .offset(pagination_parameters.first_item)
                                       .limit(pagination_parameters.page_size)).all()

    @blp.route("/dead-letters/<uuid:letter_id>")
    class DeadLetterById(MethodView):
        @blp.response(200, DeadLetterDetailSchema)
        @blp.doc(security=_AUTH)
        def get(self, letter_id: Any) -> Any:
            """Inspect a dead letter (staff): error, traceback, message with personal data masked."""
            require_staff()
            with runtime().session_factory() as session:
                return letter_or_404(session, str(letter_id))

    def act(letter_id: str, action: str) -> Any:
        require_staff()
        with runtime().uow() as uow:
            letter = letter_or_404(uow.session, letter_id)
            if letter.status != PARKED:
                abort(409, message=f"This dead letter was already {letter.status.lower()}.")
            detail: dict[str, Any] = {"message_id": letter.message_id, "actor": letter.actor}
            if action == "replay":
                detail["outbox_id"] = replay(uow, letter)
            else:
                discard(letter)
            audit(uow, action, letter_id, **detail)
            uow.commit()
            return letter

    @blp.route("/dead-letters/<uuid:letter_id>/replay")
    class Replay(MethodView):
        @blp.response(200, DeadLetterSchema)
        @blp.alt_response(409, description="Already replayed or discarded.")
        @blp.doc(security=_AUTH)
        def post(self, letter_id: Any) -> Any:
            """Replay a dead letter (staff)

            Sends the message again with its original id (consumers deduplicate on it). Audited.
            """
            return act(str(letter_id), "replay")

    @blp.route("/dead-letters/<uuid:letter_id>/discard")
    class Discard(MethodView):
        @blp.response(200, DeadLetterSchema)
        @blp.alt_response(409, description="Already replayed or discarded.")
        @blp.doc(security=_AUTH)
        def post(self, letter_id: Any) -> Any:
            """Discard a dead letter (staff). Audited."""
            return act(str(letter_id), "discard")

    @blp.route("/dead-letters/purge")
    class Purge(MethodView):
        @blp.response(200)
        @blp.doc(security=_AUTH)
        def post(self) -> Any:
            """Discard every parked dead letter of this service (staff). Audited."""
            require_staff()
            model = tables().dead_letters
            with runtime().uow() as uow:
                letters = uow.session.scalars(select(model).where(model.status == PARKED).with_for_update()).all()
                for letter in letters:
                    discard(letter)
                audit(uow, "purge", f"{service}.XQ", discarded=len(letters))
                uow.commit()
            return {"discarded": len(letters)}

    @blp.route("/operator-actions")
    class Actions(MethodView):
        @blp.response(200, ActionSchema(many=True))
        @blp.paginate()
        @blp.doc(security=_AUTH)
        def get(self, pagination_parameters: Any) -> Any:
            """The audit trail of operator actions on this service (staff), newest first."""
            require_staff()
            model = tables().audit
            with runtime().session_factory() as session:
                pagination_parameters.item_count = session.scalar(select(func.count()).select_from(model))
                return session.scalars(select(model).order_by(model.id.desc())
                                       .offset(pagination_parameters.first_item)
                                       .limit(pagination_parameters.page_size)).all()

    @blp.route("/tasks")
    class Tasks(MethodView):
        @blp.arguments(TaskQuerySchema, location="query")
        @blp.response(200, TaskSchema(many=True))
        @blp.doc(security=_AUTH)
        def get(self, args: dict[str, Any]) -> Any:
            """What happened here to every message of an application (staff)."""
            require_staff()
            return task_history(str(args["application_id"]))

    return blp


def task_history(application_id: str) -> list[dict[str, Any]]:
    """Every message of ``application_id`` this service handled or failed, with its attempts."""
    t = runtime().definition.tables
    with runtime().session_factory() as session:
        processed = session.scalars(select(t.processed).where(t.processed.application_id == application_id)).all()
        attempts = session.scalars(select(t.attempts).where(t.attempts.application_id == application_id)
                                   .order_by(t.attempts.id)).all()
        letters = session.scalars(select(t.dead_letters).where(t.dead_letters.application_id == application_id)).all()
    tasks: dict[str, dict[str, Any]] = {}
    for row in processed:
        if row.message_id.endswith(":gave-up"):
            continue
        tasks[row.message_id] = {"message_id": row.message_id, "actor": row.actor, "application_id": application_id,
                                 "state": "succeeded", "processed_at": row.processed_at, "attempts": [],
                                 "dead_letter": None}
    for attempt in attempts:
        task = tasks.setdefault(attempt.message_id, {
            "message_id": attempt.message_id, "actor": attempt.actor, "application_id": application_id,
            "state": "retrying", "processed_at": None, "attempts": [], "dead_letter": None})
        task["attempts"].append(attempt)
        if attempt.outcome == "dead" and task["state"] != "succeeded":
            task["state"] = "dead"
    for letter in letters:
        if letter.message_id in tasks:
            tasks[letter.message_id]["dead_letter"] = letter
    return sorted(tasks.values(), key=lambda task: str(task["processed_at"] or ""))

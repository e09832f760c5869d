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

from common.kernel.privacy import mask
from common.messaging.deadletters import DISCARDED, PARKED, REPLAYED, discard, replay
from common.messaging.tasks import is_give_up_key
from common.web.http import require_staff, runtime

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


def replay_preparation(message_type: str | None) -> Any:
    """The service's ``on_replay`` handler for ``message_type``, if it has one."""
    rt = runtime()
    hooks = rt.bindings.on_replay
    return hooks.get(message_type or "")


def operator_name() -> str:
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
        uow.session.add(tables().audit(operator=operator_name(), action=action, target=target, detail=detail))

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
                detail["outbox_id"] = replay(uow, letter, replay_preparation(letter.message_type))
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
            """Search this service's tasks (staff)

            By application, actor, state (succeeded, retrying, dead) and time; newest first.
            """
            require_staff()
            return search_tasks(args)

    @blp.route("/tasks/overview")
    class TasksOverview(MethodView):
        @blp.arguments(OverviewQuerySchema, location="query")
        @blp.response(200)
        @blp.doc(security=_AUTH)
        def get(self, args: dict[str, Any]) -> Any:
            """Queues and actors of this service (staff)

            Queue depth, consumers and unacked messages from RabbitMQ; per actor over the window:
            succeeded, failed attempts, dead letters, duration and latency percentiles.
            """
            require_staff()
            return overview(args.get("window_minutes", 60))

    @blp.route("/tasks/<string:message_id>")
    class TaskById(MethodView):
        @blp.response(200, TaskSchema)
        @blp.doc(security=_AUTH)
        def get(self, message_id: str) -> Any:
            """One task (staff): its every attempt with tracebacks, and its dead letter if any."""
            require_staff()
            tasks = search_tasks({"message_id": message_id[:64]})
            if not tasks:
                abort(404, message="No such task here.")
            return tasks[0]

    return blp


def search_tasks(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Tasks of this service matching ``args`` (application_id, actor, state, since, message_id).

    A task is a message: succeeded when its processed record exists, otherwise retrying or dead
    according to its latest failed attempt.
    """
    t = runtime().definition.tables
    limit = int(args.get("limit", 100))

    def where(model: Any, time_column: Any) -> list[Any]:
        clauses = []
        if args.get("application_id"):
            clauses.append(model.application_id == str(args["application_id"]))
        if args.get("actor"):
            clauses.append(model.actor == args["actor"])
        if args.get("message_id"):
            clauses.append(model.message_id == args["message_id"])
        if args.get("since"):
            clauses.append(time_column >= args["since"])
        return clauses

    with runtime().session_factory() as session:
        processed = session.scalars(select(t.processed).where(*where(t.processed, t.processed.processed_at))
                                    .order_by(t.processed.processed_at.desc()).limit(limit)).all()
        attempts = session.scalars(select(t.attempts).where(*where(t.attempts, t.attempts.at))
                                   .order_by(t.attempts.id.desc()).limit(limit * 5)).all()
        ids = {a.message_id for a in attempts} | {p.message_id for p in processed}
        done = {p.message_id: p for p in processed}
        if attempts:  # a failed task may have succeeded later, outside the page of processed rows
            done.update({p.message_id: p for p in session.scalars(
                select(t.processed).where(t.processed.message_id.in_([a.message_id for a in attempts])))})
        letters = {d.message_id: d for d in session.scalars(
            select(t.dead_letters).where(t.dead_letters.message_id.in_(list(ids))))} if ids else {}
    tasks: dict[str, dict[str, Any]] = {}
    for attempt in reversed(attempts):
        task = tasks.setdefault(attempt.message_id, _task(attempt.message_id, attempt.actor, attempt.application_id))
        task["attempts"].append(attempt)
        task["state"] = "dead" if attempt.outcome == "dead" else "retrying"
        task["at"] = attempt.at
    for message_id, row in done.items():
        if is_give_up_key(message_id):
            continue
        task = tasks.setdefault(message_id, _task(message_id, row.actor, row.application_id))
        task.update(state="succeeded", processed_at=row.processed_at, at=row.processed_at,
                    duration_ms=row.duration_ms, latency_ms=row.latency_ms)
    for message_id, letter in letters.items():
        if message_id in tasks:
            tasks[message_id]["dead_letter"] = letter
    found = [task for task in tasks.values() if args.get("state") in (None, task["state"])]
    return sorted(found, key=lambda task: str(task["at"]), reverse=True)[:limit]


def _task(message_id: str, actor: str, application_id: str | None) -> dict[str, Any]:
    return {"message_id": message_id, "actor": actor, "application_id": application_id, "state": "retrying",
            "processed_at": None, "at": None, "duration_ms": None, "latency_ms": None, "attempts": [],
            "dead_letter": None}


def _percentile(values: list[int], share: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def overview(window_minutes: int = 60) -> dict[str, Any]:
    """Queues (from the broker) and, per actor over the window: throughput, failures, percentiles."""
    from datetime import timedelta

    from common.kernel.clock import utcnow
    from common.operations.queue_stats import queue_stats

    rt = runtime()
    t = rt.definition.tables
    since = utcnow() - timedelta(minutes=window_minutes)
    with rt.session_factory() as session:
        done = session.execute(select(t.processed.actor, t.processed.duration_ms, t.processed.latency_ms)
                               .where(t.processed.processed_at >= since).limit(20_000)).all()
        failed = dict(session.execute(select(t.attempts.actor, func.count()).where(t.attempts.at >= since)
                                      .group_by(t.attempts.actor)).all())
        parked = dict(session.execute(select(t.dead_letters.actor, func.count())
                                      .where(t.dead_letters.status == PARKED).group_by(t.dead_letters.actor)).all())
    actors: dict[str, dict[str, Any]] = {}
    for actor, duration, latency in done:
        if actor.endswith(":gave-up"):
            continue
        entry = actors.setdefault(actor, {"durations": [], "latencies": []})
        entry["durations"].append(duration or 0)
        entry["latencies"].append(latency or 0)
    names = sorted(set(actors) | set(failed) | set(parked))
    return {
        "service": rt.name,
        "window_minutes": window_minutes,
        "queues": queue_stats(rt.name, rt.settings.broker_url, rt.broker),
        "actors": [{
            "actor": name,
            "succeeded": len(actors.get(name, {}).get("durations", [])),
            "per_minute": round(len(actors.get(name, {}).get("durations", [])) / window_minutes, 2),
            "failed_attempts": failed.get(name, 0),
            "dead_letters": parked.get(name, 0),
            **{f"{kind}_p{int(share * 100)}_ms": _percentile(actors.get(name, {}).get(key, []), share)
               for kind, key in (("duration", "durations"), ("latency", "latencies"))
               for share in (0.5, 0.95, 0.99)},
        } for name in names],
    }

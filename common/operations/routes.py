"""Staff endpoints every service has: dead letters and their replay, task history, audit, parked outbox.

``/<svc>/dead-letters`` lists what this service failed to process for good; ``replay`` sends a
message again with its original id (through the outbox), ``discard`` and ``purge`` give up on
messages, ``batch`` does either to every parked letter a filter selects (:mod:`.batch`).
``/<svc>/outbox/parked`` lists the events its relay could not publish whatever the broker's
state (``common.messaging.relay``; the alert ``LoanflowOutboxRowsParked`` points here) and
``retry`` hands one back to the relay once the cause is fixed. Every action is audited with the
signed-in operator (the username in their token). ``/<svc>/tasks`` answers "what happened to this
message / to this application's messages here". Message contents are shown masked.

The views are module-level on two blueprints that every service mounts under its own prefix and
name (:func:`register_operations`); each calls one query or command with the service's runtime.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Api, abort

from common.identity.roles import OPERATOR
from common.operations import batch, commands, queries, task_history
from common.operations.schemas import (
    ActionSchema,
    BatchResultSchema,
    BatchSchema,
    DeadLetterDetailSchema,
    DeadLetterQuerySchema,
    DeadLetterSchema,
    OverviewQuerySchema,
    ParkedRowSchema,
    TaskQuerySchema,
    TaskSchema,
)
from common.web.blueprint import Blueprint
from common.web.context import current_caller, runtime

blp = Blueprint("operations", __name__, description="Operators: dead letters (replay, discard, purge), "
                "task history, audit.")
outbox_blp = Blueprint("outbox", __name__, description="Operators: outbox rows the relay could not publish.")


def register_operations(api: Api, service: str) -> None:
    """Mount both blueprints under ``/<service>`` as ``<service>_operations`` and ``<service>_outbox``."""
    for blueprint in (blp, outbox_blp):
        api.register_blueprint(blueprint, name=f"{service}_{blueprint.name}", url_prefix=f"/{service}")


def operator_name() -> str:
    """Who acts: the signed-in staff member the guard admitted (their token's username), never a
    name the client writes itself. The audit trail names them."""
    return current_caller().username


def _settle(letter_id: Any, action: str) -> Any:
    try:
        return commands.settle_dead_letter(runtime(), str(letter_id), action, operator_name())
    except commands.NotFound:
        abort(404, message="No such dead letter.")
    except commands.Conflict as refusal:
        abort(409, message=str(refusal))


@blp.route("/dead-letters")
class DeadLetters(MethodView):
    @blp.staff_only(OPERATOR)
    @blp.arguments(DeadLetterQuerySchema, location="query")
    @blp.response(200, DeadLetterSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: Any) -> Any:
        """List dead letters (operator)

        Messages this service gave up on, newest first; filter by status or application.
        """
        letters, pagination_parameters.item_count = queries.dead_letters(
            runtime(), args, pagination_parameters.first_item, pagination_parameters.page_size)
        return letters


@blp.route("/dead-letters/<uuid:letter_id>")
class DeadLetterById(MethodView):
    @blp.response(200, DeadLetterDetailSchema)
    @blp.staff_only(OPERATOR)
    def get(self, letter_id: Any) -> Any:
        """Inspect a dead letter (operator): error, traceback, message with personal data masked."""
        letter = queries.dead_letter(runtime(), str(letter_id))
        if letter is None:
            abort(404, message="No such dead letter.")
        return letter


@blp.route("/dead-letters/<uuid:letter_id>/replay")
class Replay(MethodView):
    @blp.response(200, DeadLetterSchema)
    @blp.alt_response(409, description="Already replayed or discarded.")
    @blp.staff_only(OPERATOR)
    def post(self, letter_id: Any) -> Any:
        """Replay a dead letter (operator)

        Sends the message again with its original id (consumers deduplicate on it). Audited.
        """
        return _settle(letter_id, "replay")


@blp.route("/dead-letters/<uuid:letter_id>/discard")
class Discard(MethodView):
    @blp.response(200, DeadLetterSchema)
    @blp.alt_response(409, description="Already replayed or discarded.")
    @blp.staff_only(OPERATOR)
    def post(self, letter_id: Any) -> Any:
        """Discard a dead letter (operator). Audited."""
        return _settle(letter_id, "discard")


@blp.route("/dead-letters/batch")
class Batch(MethodView):
    @blp.staff_only(OPERATOR)
    @blp.arguments(BatchSchema)
    @blp.response(200, BatchResultSchema)
    def post(self, args: dict[str, Any]) -> Any:
        """Replay or discard dead letters by query (operator)

        Acts on the **parked** letters the filter selects (``{}``: all of them), the oldest first
        and at most ``LOANFLOW_BATCH_LIMIT`` (1000) per call: ``remaining`` says how many more
        match. Each goes the way of the single-letter replay or discard, audited with the batch
        id; the batch is audited too. ``dry_run: true`` only counts (and is audited).
        """
        return batch.run_batch(runtime(), args["action"], args["filter"], dry_run=args["dry_run"],
                               operator=operator_name())


@blp.route("/dead-letters/purge")
class Purge(MethodView):
    @blp.response(200)
    @blp.staff_only()
    def post(self) -> Any:
        """Discard every parked dead letter of this service (admin). Audited."""
        return {"discarded": commands.purge_dead_letters(runtime(), operator_name())}


@blp.route("/operator-actions")
class Actions(MethodView):
    @blp.response(200, ActionSchema(many=True))
    @blp.paginate()
    @blp.staff_only(OPERATOR)
    def get(self, pagination_parameters: Any) -> Any:
        """The audit trail of operator actions on this service (operator), newest first."""
        actions, pagination_parameters.item_count = queries.operator_actions(
            runtime(), pagination_parameters.first_item, pagination_parameters.page_size)
        return actions


@blp.route("/tasks")
class Tasks(MethodView):
    @blp.staff_only(OPERATOR)
    @blp.arguments(TaskQuerySchema, location="query")
    @blp.response(200, TaskSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Search this service's tasks (operator)

        By application, actor, state (succeeded, retrying, dead) and time; newest first.
        """
        return task_history.search_tasks(runtime(), args)


@blp.route("/tasks/overview")
class TasksOverview(MethodView):
    @blp.staff_only(OPERATOR)
    @blp.arguments(OverviewQuerySchema, location="query")
    @blp.response(200)
    def get(self, args: dict[str, Any]) -> Any:
        """Queues and actors of this service (operator)

        Queue depth, consumers and unacked messages from RabbitMQ; per actor over the window:
        succeeded, failed attempts, dead letters, duration and latency percentiles.
        """
        return task_history.overview(runtime(), args.get("window_minutes", 60))


@blp.route("/tasks/<string:message_id>")
class TaskById(MethodView):
    @blp.response(200, TaskSchema)
    @blp.staff_only(OPERATOR)
    def get(self, message_id: str) -> Any:
        """One task (operator): its every attempt with tracebacks, and its dead letter if any."""
        tasks = task_history.search_tasks(runtime(), {"message_id": message_id[:64]})
        if not tasks:
            abort(404, message="No such task here.")
        return tasks[0]


@outbox_blp.route("/outbox/parked")
class Parked(MethodView):
    @outbox_blp.response(200, ParkedRowSchema(many=True))
    @outbox_blp.staff_only(OPERATOR)
    def get(self) -> Any:
        """Parked outbox rows (operator), oldest first, with their last publication error."""
        return queries.parked_rows(runtime())


@outbox_blp.route("/outbox/<uuid:row_id>/retry")
class Retry(MethodView):
    @outbox_blp.response(200, ParkedRowSchema)
    @outbox_blp.alt_response(409, description="The row is not parked.")
    @outbox_blp.staff_only(OPERATOR)
    def post(self, row_id: Any) -> Any:
        """Give a parked row back to the relay (operator), with a fresh count of attempts. Audited."""
        try:
            return commands.retry_outbox_row(runtime(), str(row_id), operator_name())
        except commands.NotFound:
            abort(404, message="No such outbox row.")
        except commands.Conflict as refusal:
            abort(409, message=str(refusal))

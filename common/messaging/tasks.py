"""What happened to every task: the attempts record and the supervision middleware.

A task that succeeded is recorded by its ``processed_messages`` row, written in the same
transaction as its effect (no extra write on the happy path). Every failed attempt is recorded
here with its error and traceback; a message Dramatiq gives up on is also parked as a dead letter
and handed to the service's give-up handler, all in one transaction of the failing service.
"""

from __future__ import annotations

import logging
import time
import traceback as tb
from datetime import datetime
from typing import Any

from dramatiq import Broker, Middleware
from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from common.kernel.clock import UTCDateTime, utcnow
from common.kernel.privacy import hide_statement_values
from common.messaging.envelope import Envelope

log = logging.getLogger(__name__)


def give_up_key(message_id: str, round_: int) -> str:
    """The processed-message id that records a give-up (``:gave-up``, then ``:gave-up:<replay>``)."""
    return f"{message_id}:gave-up" if round_ == 0 else f"{message_id}:gave-up:{round_}"


def is_give_up_key(message_id: str) -> bool:
    """True for the bookkeeping rows of :func:`give_up_key` (not tasks of their own)."""
    return ":gave-up" in message_id


class TaskAttemptMixin:
    """One failed attempt of one message (``outcome``: ``retrying`` or ``dead``)."""

    __tablename__ = "task_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    application_id: Mapped[str | None] = mapped_column(String(36), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Supervision(Middleware):
    """Records failed attempts, parks dead letters and runs give-up handlers.

    One instance per broker, serving every service whose actors the broker carries (one in a
    worker process, five in the embedded mode). It must sit *before* ``Retries`` in the
    middleware list: Dramatiq calls ``after_process_message`` hooks in reverse order, and this
    one needs to see whether ``Retries`` has just given up on the message.
    """

    def __init__(self) -> None:
        self.runtimes: dict[str, Any] = {}
        self.give_up: dict[str, dict[str, Any]] = {}

    def register(self, runtime: Any, give_up_handlers: dict[str, Any]) -> None:
        self.runtimes[runtime.name] = runtime
        self.give_up[runtime.name] = give_up_handlers

    def before_process_message(self, broker: Broker, message: Any) -> None:
        message._loanflow_started = time.monotonic()

    def after_process_message(
        self, broker: Broker, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        if exception is None:
            return
        service = message.actor_name.split(".", 1)[0]
        runtime = self.runtimes.get(service)
        if runtime is None:
            return
        started = getattr(message, "_loanflow_started", None)
        duration = int((time.monotonic() - started) * 1000) if started else None
        # Database errors quote the rows they refused (names, e-mails, birth dates): stored and
        # shown on /tasks, these texts must not carry them.
        error = hide_statement_values(f"{type(exception).__name__}: {exception}")[:1000]
        trace = hide_statement_values("".join(tb.format_exception(exception)))[-8000:]
        self._record(runtime, message, error, trace, duration)

    def _record(self, runtime: Any, message: Any, error: str, trace: str, duration: int | None) -> None:
        from common.messaging.deadletters import park
        from common.messaging.erasure import scrub_shared_tables

        tables = runtime.definition.tables
        wire = message.args[0] if message.args and isinstance(message.args[0], dict) else {}
        attempt = int(message.options.get("retries", 1))
        with runtime.uow() as uow:
            # First, before any row lock: a message of an erased application (late, or replayed)
            # is recorded without its personal data (common.messaging.erasure).
            erased = uow.erased(wire.get("application_id"))
            uow.session.add(tables.attempts(
                message_id=message.message_id, actor=message.actor_name,
                application_id=wire.get("application_id"), attempt=attempt,
                outcome="dead" if message.failed else "retrying", error=error, traceback=trace,
                duration_ms=duration, at=utcnow(),
            ))
            if message.failed:
                parked = park(uow, tables.dead_letters, message, error, trace)
                self._give_up(runtime, uow, message, wire, error, parked)
            if erased:
                scrub_shared_tables(uow.session, tables, wire["application_id"])
            uow.commit()

    def _give_up(self, runtime: Any, uow: Any, message: Any, wire: dict[str, Any], error: str,
                 round_: int | None) -> None:
        """Run the give-up handler once per round: the first failure, then each failed replay."""
        handler = self.give_up.get(runtime.name, {}).get(wire.get("type", ""))
        if handler is None or round_ is None:
            return
        key = give_up_key(message.message_id, round_)
        envelope = Envelope.from_wire(key, {**wire, "data": {**(wire.get("data") or {}), "_error": error}})
        if uow.claim(key, message.actor_name + ":gave-up", envelope.application_id, envelope.correlation_id):
            handler(envelope, uow)

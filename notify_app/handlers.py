"""notify_app's message handlers: remember who to tell, and log every status change once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dramatiq import Retry

from common.clock import utcnow
from common.db import insert_or_lock
from common.envelope import Envelope
from common.runtime import Handler, Runtime, TwoPhase
from common.uow import UnitOfWork
from notify_app.adapters.orm import Notification, Recipient
from notify_app.documents import document_handlers, owe_email


def _recipient(uow: UnitOfWork, application_id: str) -> Recipient:
    """The application's row, created if needed, locked for this transaction.

    ``ApplicationSubmitted`` and the first ``ApplicationStatusChanged`` race to create it:
    ``INSERT … ON CONFLICT DO NOTHING`` lets both go on, then the row lock orders them.
    """
    values = {"application_id": application_id, "summary": {}, "last_seq": 0, "language": "en", "updated_at": utcnow()}
    return insert_or_lock(uow.session, Recipient, "application_id", values)[0]


def message_handlers(runtime: Runtime) -> dict[str, Handler | TwoPhase]:
    """``{message name: handler}`` for everything notify_app consumes."""

    def on_submitted(envelope: Envelope, uow: UnitOfWork) -> None:
        recipient = _recipient(uow, envelope.application_id or "")
        contact = envelope.data["contact"]
        recipient.full_name = contact["full_name"]
        recipient.email = contact["email"]
        recipient.language = contact.get("language", "en")
        recipient.summary = envelope.data["summary"]
        recipient.updated_at = utcnow()

    def on_status_changed(envelope: Envelope, uow: UnitOfWork) -> None:
        data: dict[str, Any] = envelope.data
        application_id = envelope.application_id or ""
        recipient = _recipient(uow, application_id)
        if data["seq"] <= recipient.last_seq:
            return  # already logged (the log is written in order, so every lower seq is there)
        if data["seq"] > recipient.last_seq + 1:
            # An earlier change is still in flight: log in order, so that an applicant's stream
            # can be resumed by seq. Dramatiq retries this message shortly.
            raise Retry(delay=300)
        uow.session.add(Notification(
            event_id=envelope.event_id,
            application_id=application_id,
            seq=data["seq"],
            status=data["status"],
            previous_status=data["previous_status"],
            payload={key: value for key, value in data.items() if key != "occurred_at"},
            at=datetime.fromisoformat(data["at"]),
        ))
        owe_email(uow, application_id, data["seq"], data["status"], envelope.correlation_id)
        recipient.last_seq = data["seq"]
        recipient.status = data["status"]
        recipient.reasons = list(data.get("reasons") or [])
        recipient.summary = data.get("summary") or recipient.summary
        recipient.updated_at = utcnow()

    return {
        "ApplicationSubmitted": on_submitted,
        "ApplicationStatusChanged": on_status_changed,
        **document_handlers(runtime, runtime.settings.public_url),
    }

"""notify_app's message handlers: remember who to tell, and log every status change once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from common.clock import utcnow
from common.envelope import Envelope
from common.runtime import Handler, Runtime
from common.uow import UnitOfWork
from notify_app.adapters.orm import Notification, Recipient


def _recipient(uow: UnitOfWork, application_id: str) -> Recipient:
    recipient = uow.session.get(Recipient, application_id, with_for_update=True)
    if recipient is None:
        recipient = Recipient(application_id=application_id, summary={}, last_seq=0, language="en")
        uow.session.add(recipient)
    return recipient


def message_handlers(runtime: Runtime) -> dict[str, Handler]:
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
        exists = uow.session.scalar(
            select(Notification.id).where(Notification.application_id == application_id,
                                          Notification.seq == data["seq"])
        )
        if exists is not None:
            return
        uow.session.add(Notification(
            event_id=envelope.event_id,
            application_id=application_id,
            seq=data["seq"],
            status=data["status"],
            previous_status=data["previous_status"],
            payload={key: value for key, value in data.items() if key != "occurred_at"},
            at=datetime.fromisoformat(data["at"]),
        ))
        if data["seq"] > recipient.last_seq:
            recipient.last_seq = data["seq"]
            recipient.status = data["status"]
            recipient.summary = data.get("summary") or recipient.summary
            recipient.updated_at = utcnow()

    return {"ApplicationSubmitted": on_submitted, "ApplicationStatusChanged": on_status_changed}

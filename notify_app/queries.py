"""What notify_app's views read: the log of status changes, documents, the staff list.

Each query takes the service's runtime and opens one session. The live channels read the log
as they stream (:mod:`notify_app.live.streams`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from common.service.runtime import Runtime
from common.web.applicant_access import AccessFacts
from notify_app.adapters.orm import Document, Notification, Recipient

_FACTS = select(Recipient.access_generation, Recipient.access_valid_from, Recipient.ended_at)


def notifications(rt: Runtime, application_id: str) -> Sequence[Notification]:
    """The status changes logged for an application, oldest first."""
    with rt.session_factory() as session:
        return session.scalars(select(Notification).where(Notification.application_id == application_id)
                               .order_by(Notification.seq)).all()


def documents(rt: Runtime, application_id: str) -> Sequence[Document]:
    """The documents generated for an application."""
    with rt.session_factory() as session:
        return session.scalars(select(Document).where(Document.application_id == application_id)
                               .order_by(Document.kind)).all()


def document(rt: Runtime, application_id: str, document_id: str) -> Document | None:
    """One document of an application, or ``None`` (also when it belongs to another application)."""
    with rt.session_factory() as session:
        found = session.get(Document, document_id)
    return found if found is not None and found.application_id == application_id else None


def recipients(rt: Runtime, status: str | None, offset: int, limit: int) -> tuple[Sequence[Recipient], int]:
    """A page of the applications notify knows, most recently changed first; and the total."""
    query = select(Recipient).where(Recipient.status.is_not(None))
    if status:
        query = query.where(Recipient.status == status)
    with rt.session_factory() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        rows = session.scalars(query.order_by(Recipient.updated_at.desc()).offset(offset).limit(limit)).all()
    return rows, int(total or 0)


def access_facts(rt: Runtime, application_id: str) -> AccessFacts | None:
    """What notify knows of the application's applicant tokens (``ServiceDefinition.access_facts``),
    or ``None`` before any message about it arrived (a token of the first generation then passes)."""
    with rt.engine.connect() as connection:
        row = connection.execute(_FACTS.where(Recipient.application_id == application_id)).first()
    return AccessFacts(generation=row[0], valid_from=row[1], ended_at=row[2]) if row is not None else None

"""notify_app's message handlers: remember who to tell, and log every status change once.

The documents and e-mails a status change warrants are handled in :mod:`notify_app.documents`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dramatiq import Retry

from common.kernel.clock import utcnow
from common.kernel.settings import Settings
from common.messaging.envelope import Envelope
from common.messaging.erasure import ErasureRequest
from notify_app.adapters.repository import NotifyUnitOfWork
from notify_app.documents import owe_email
from notify_app.domain.emails import EMAIL_STATUSES
from notify_app.domain.lifecycle import FINAL_STATUSES

#: The first wait of a status change that overtook its predecessor (see PredecessorMissing).
ORDERING_MIN_DELAY_MS = 25
#: Retries of a status change for errors other than a missing predecessor (the former budget).
OTHER_ERRORS_MAX_RETRIES = 100


class PredecessorMissing(Retry):
    """A status change arrived before the one it follows; retried while the predecessor can still come.

    The delay is a tenth of the wait so far, from :data:`ORDERING_MIN_DELAY_MS` up to the
    service's ``LOANFLOW_MAX_BACKOFF_MS``: quick at first, sparse later. Not from
    ``LOANFLOW_MIN_BACKOFF_MS``: that floor is for failures, and this is no failure. The
    predecessor was committed first in loan's outbox and published in the same batch, so it is
    nearly always being applied by another thread at that very moment (a submission commits
    SUBMITTED and EVALUATING together): a 500 ms floor had added half a second to most
    applications' first status change, and every later change waited behind it (the benchmark's
    p99 to the decision on SSE was 1.7 s at 10 applications/s while the decision itself was
    committed within 0.52 s).
    """

    def __init__(self, waited: timedelta, settings: Settings) -> None:
        self.waited = waited
        tenth_ms = int(waited.total_seconds() * 100)
        super().__init__(f"an earlier status change is not logged yet (waited {waited})",
                         delay=min(settings.max_backoff_ms, max(ORDERING_MIN_DELAY_MS, tenth_ms)))


def ordering_retry_when(settings: Settings) -> Callable[[int, BaseException], bool]:
    """Dramatiq's ``retry_when`` for status changes.

    Why not a retry count: the predecessor of a change was committed before it in loan_app's
    outbox, so it does come — after a broker or relay outage, or a replay of its dead letter —
    and a count (100 × 300 ms before) dead-lettered the change after ~30 s, stalling the
    applicant's log for good. A change waits as long as its application itself could still be
    waiting (step plus information deadlines). Other errors keep this actor's former budget of
    100 retries, counted together with the waits (Dramatiq keeps one count per message).
    """
    horizon = timedelta(seconds=settings.step_timeout_seconds + settings.info_timeout_seconds)

    def retry_when(retries: int, exception: BaseException) -> bool:
        if isinstance(exception, PredecessorMissing):
            return exception.waited < horizon
        return retries < OTHER_ERRORS_MAX_RETRIES

    return retry_when


def on_submitted(envelope: Envelope, uow: NotifyUnitOfWork) -> None:
    """``ApplicationSubmitted``: who to tell, and in which language (nobody, once erased: the
    erasure may have overtaken this message)."""
    application_id, contact = envelope.application_id or "", envelope.data["contact"]
    erased = uow.erased(application_id)
    uow.recipients.submitted(application_id, full_name=None if erased else contact["full_name"],
                             email=None if erased else contact["email"], language=contact.get("language", "en"),
                             summary=envelope.data["summary"])


def erase(uow: NotifyUnitOfWork, application_id: str, request: ErasureRequest) -> None:
    """notify_app's anonymiser (``PersonalData.erase``): the contact's name and address, the
    documents (the schedule names the applicant), what the e-mails' errors quote; an e-mail
    still owed is not sent. The log of status changes holds no personal data and stays."""
    uow.recipients.forget_contact(application_id)
    uow.documents.delete(application_id)
    uow.emails.forget(application_id)


def on_status_changed(envelope: Envelope, uow: NotifyUnitOfWork, *, settings: Settings) -> None:
    """``ApplicationStatusChanged``: log it once, in order, and owe the e-mail it warrants.

    Raises:
      PredecessorMissing: an earlier change of the application is not logged yet.
    """
    data: dict[str, Any] = envelope.data
    application_id, seq = envelope.application_id or "", data["seq"]
    # Asked first, before the recipient's row is locked (common.messaging.erasure), and only for
    # a change that warrants an e-mail: nobody is left to write to once the data is erased.
    owes_email = data["status"] in EMAIL_STATUSES and not uow.erased(application_id)
    changes: dict[str, Any] = {"status": data["status"], "reasons": list(data.get("reasons") or [])}
    if data.get("summary"):
        changes["summary"] = data["summary"]
    if data["status"] in FINAL_STATUSES:  # the applicant's tokens expire some time after this
        changes["ended_at"] = datetime.fromisoformat(data["at"])
    last_seq = uow.recipients.advance(application_id, seq, changes)
    if seq <= last_seq:
        return  # already logged (the log is written in order, so every lower seq is there)
    if seq > last_seq + 1:
        # An earlier change is still in flight: log in order, so that an applicant's stream
        # can be resumed by seq. Retried until the predecessor is logged (ordering_retry_when).
        raise PredecessorMissing(utcnow() - datetime.fromisoformat(data["at"]), settings)
    uow.notifications.log(
        event_id=envelope.event_id,
        application_id=application_id,
        seq=seq,
        status=data["status"],
        previous_status=data["previous_status"],
        payload={key: value for key, value in data.items() if key != "occurred_at"},
        at=datetime.fromisoformat(data["at"]),
    )
    if owes_email:
        owe_email(uow, application_id, seq, data["status"], envelope.correlation_id)


def on_access_changed(envelope: Envelope, uow: NotifyUnitOfWork) -> None:
    """``ApplicantAccessChanged``: tokens re-issued or revoked at loan_app; notify refuses the
    retired ones from now on (merged in any order, once or twice: see ``Recipients.access_changed``)."""
    data = envelope.data
    uow.recipients.access_changed(envelope.application_id or "", int(data["generation"]), int(data["valid_from"]))

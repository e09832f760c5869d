"""E-mailing a re-issued access token to the applicant (``SendAccessToken``, from loan_app).

loan_app decides whether a token is re-issued (the address given matches the application's)
and makes its generation; notify mints the token itself and sends it, on its ``documents`` lane
with the other e-mails. The token is never written to an outbox row or a message: only its
generation travels, and the signature is made here, with the shared key, just before sending.

At least once, like the status e-mails: the SMTP call runs outside the transaction (a two-phase
handler), a message applied before is skipped without calling SMTP, and the one window left (a
crash between the SMTP server's acceptance and the commit) resends with the same ``Message-ID``,
which receiving servers use to drop duplicates.
"""

from __future__ import annotations

from collections.abc import Callable

from dramatiq import Retry

from common.messaging.envelope import Envelope
from notify_app.adapters.mailer import Mailer
from notify_app.adapters.repository import NotifyUnitOfWork
from notify_app.adapters.templates import compose
from notify_app.documents import StatusLinks
from notify_app.domain.emails import NEW_ACCESS


def send_access_token(envelope: Envelope, *, open_uow: Callable[[], NotifyUnitOfWork], mailer: Mailer | None,
                      links: StatusLinks) -> str | None:
    """``SendAccessToken``, first phase, outside the transaction: the e-mail's subject once sent,
    ``None`` when nothing is sent (no SMTP server, the tokens revoked or the data erased since)."""
    application_id, generation = envelope.application_id or "", int(envelope.data["generation"])
    with open_uow() as uow:
        if uow.erased(application_id):
            return None  # the applicant's data is erased: nobody to write to
        recipient = uow.recipients.get(application_id)
    if mailer is None:
        return None
    if recipient is None or not recipient.email:
        raise Retry(delay=500)  # ApplicationSubmitted (the contact details) is not applied yet
    if recipient.access_valid_from > generation:
        return None  # revoked after this re-issue: the token would open nothing
    email = compose(NEW_ACCESS, recipient.language or "en", {
        "full_name": recipient.full_name or "", "application_id": application_id,
        "status_url": links.status_url(application_id, generation),
        "access_token": links.token(application_id, generation),
    })
    mailer.send(recipient.email, email.subject, email.text, email.html, [],
                f"<{application_id}.access-{generation}@loanflow>")
    return email.subject


def access_token_sent(envelope: Envelope, uow: NotifyUnitOfWork, subject: str | None) -> None:
    """``SendAccessToken``, second phase: nothing to store; the message's processed id (written
    by the consumer in this transaction) is what keeps a redelivery from sending it again."""

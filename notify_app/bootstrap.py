"""notify_app's dependencies, built once from the settings and bound to its handlers.

Every process of the service (worker, web app, relay, embedded mode) gets its handlers from here,
through :class:`common.service.runtime.Runtime`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from common.kernel.settings import Settings
from common.messaging.erasure import PersonalData, erasure_handlers
from common.service.runtime import Bindings, Runtime, TwoPhase
from notify_app import access_emails, documents, handlers
from notify_app.adapters.mailer import Mailer
from notify_app.adapters.repository import NotifyUnitOfWork, ended_before
from notify_app.documents import StatusLinks
from notify_app.live import tickets


@dataclass(frozen=True)
class Dependencies:
    """What notify_app's handlers need besides the message and the unit of work."""

    uow: Callable[[], NotifyUnitOfWork]
    #: Backoff bounds and deadlines for status changes that arrive before their predecessor.
    settings: Settings
    #: None when SMTP is switched off (``extra={"smtp": "off"}``): e-mails are recorded SKIPPED.
    mailer: Mailer | None
    links: StatusLinks


def dependencies(runtime: Runtime) -> Dependencies:
    """notify_app's dependencies from ``runtime``'s settings."""
    settings = runtime.settings
    return Dependencies(
        uow=runtime.uow,  # type: ignore[arg-type]
        settings=settings,
        mailer=Mailer(settings.smtp) if settings.extra.get("smtp") != "off" else None,
        links=StatusLinks(public_url=settings.public_url, secret_key=settings.secret_key),
    )


def bootstrap(runtime: Runtime) -> Bindings[Dependencies]:
    """notify_app's handlers, give-up handlers and replay preparation, bound to its dependencies."""
    deps = dependencies(runtime)
    # notify_app knows from its log when an application ended: its retention does not wait for loan's.
    personal = PersonalData(erase=handlers.erase, ended_before=ended_before)
    return Bindings(
        dependencies=deps,
        handlers={
            "ApplicationSubmitted": handlers.on_submitted,
            "ApplicationStatusChanged": partial(handlers.on_status_changed, settings=deps.settings),
            "GenerateDocuments": TwoPhase(partial(documents.build_documents, open_uow=deps.uow),
                                          documents.store_documents),
            "SendEmail": TwoPhase(partial(documents.send_email, open_uow=deps.uow, mailer=deps.mailer,
                                          links=deps.links), documents.mark_sent),
            **erasure_handlers(runtime, personal),
            "ApplicantAccessChanged": handlers.on_access_changed,
            "SendAccessToken": TwoPhase(partial(access_emails.send_access_token, open_uow=deps.uow,
                                                mailer=deps.mailer, links=deps.links),
                                        access_emails.access_token_sent),
        },
        on_give_up={"GenerateDocuments": documents.documents_failed, "SendEmail": documents.email_failed},
        on_replay={"SendEmail": documents.email_owed_again},
        personal_data=personal,
        periodic=[(tickets.CLEANUP_INTERVAL_SECONDS, partial(tickets.forget_expired, runtime.session_factory))],
    )

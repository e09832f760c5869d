"""loan_app's HTTP commands: submit an application, answer a request for information, withdraw.

Each command takes the service's runtime, opens one unit of work, loads the application with its
row locked (a saga message cannot slip in between), asks the aggregate to change and saves it
with the messages it recorded, then commits. Refusals are exceptions the views turn into
answers: :class:`NotFound` (404), :class:`NotWaiting`, the state machine's
``InvalidTransition`` and ``NotEnded`` (409), :class:`InvalidAnswers` (422).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

from common.kernel.clock import utcnow
from common.kernel.settings import Settings
from common.messaging.erasure import REQUEST, ErasureRequest, erase_application, lock_application
from common.messaging.outbox import new_id
from common.operations.commands import audit
from common.service.runtime import Runtime
from loan_app.adapters.repository import LoanUnitOfWork
from loan_app.domain.access import ReissuePolicy
from loan_app.domain.information import check_answers
from loan_app.domain.model import Application, Deadlines
from loan_app.domain.review import ReviewTerms


class NotFound(LookupError):
    """No such application (or not one the caller may see)."""


class NotWaiting(Exception):
    """The application asks for no information now."""


class InvalidAnswers(ValueError):
    """Answers missing, ill-typed or not asked for; ``errors`` names each field."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid answers")
        self.errors = errors


def deadlines(settings: Settings) -> Deadlines:
    """How long each wait of the saga may last, from the settings."""
    review = settings.review
    return Deadlines(
        step=timedelta(seconds=settings.step_timeout_seconds),
        information=timedelta(seconds=settings.info_timeout_seconds),
        review=ReviewTerms(review.calendar(), review.hours, review.at_risk_fraction),
    )


def submit(rt: Runtime, data: dict[str, Any]) -> Application:
    """Accept a validated application and start its evaluation, in one commit.

    Starting it here rather than from loan_app's own ``ApplicationSubmitted`` saves a message, a
    relay publish and a worker transaction per application; both transitions are still recorded
    and announced in ``seq`` order. The application id doubles as the correlation id that every
    service logs and records.
    """
    application_id, loan, now, limits = new_id(), data["loan"], utcnow(), bound_deadlines(rt)
    with unit_of_work(rt) as uow:
        application = Application(
            id=application_id,
            applicant=data["applicant"],
            property=data["property"],
            amount=Decimal(loan["amount"]),
            duration_months=int(loan["duration_months"]),
            correlation_id=application_id,
            now=now,
            deadlines=limits,
        )
        application.start_evaluation(now, limits)
        uow.applications.add(application)
        uow.commit()
    return application


def supply_information(rt: Runtime, application_id: str, answers: dict[str, Any]) -> Application:
    """The applicant answers a request for information; the evaluation resumes.

    The answers are checked against what the application asks for in the same transaction that
    applies them. Raises :class:`NotFound`, :class:`NotWaiting`, :class:`InvalidAnswers`.
    """
    with unit_of_work(rt) as uow:
        application = load_locked(uow, application_id)
        requested = application.requested_information if application.status == "INFO_REQUESTED" else None
        if not requested:
            raise NotWaiting(application_id)
        clean, errors = check_answers(requested, answers)
        if errors:
            raise InvalidAnswers(errors)
        application.supply_information(clean, utcnow(), bound_deadlines(rt))
        uow.commit()
    return application


def withdraw(rt: Runtime, application_id: str) -> Application:
    """The applicant withdraws (raises InvalidTransition once the application has ended)."""
    with unit_of_work(rt) as uow:
        application = load_locked(uow, application_id)
        application.withdraw(utcnow())
        uow.commit()
    return application


def request_erasure(rt: Runtime, application_id: str, operator: str) -> None:
    """An admin asks to erase an ended application's personal data: loan's copy now, in one
    transaction with the audit record and ``PersonalDataErasureRequested`` for the others.

    Asked again, it erases again (nothing left here) and publishes the event again: a service
    restored from a backup older than the erasure erases its copy once more.
    Raises :class:`NotFound`, or ``NotEnded`` while the evaluation runs.
    """
    with unit_of_work(rt) as uow:
        lock_application(uow.session, application_id, exclusive=True)  # before the row lock
        if uow.applications.get(application_id, for_update=True) is None:
            raise NotFound(application_id)
        request = ErasureRequest(REQUEST, utcnow(), operator)
        erase_application(uow, rt.definition.tables, application_id, request, rt.bindings.personal_data)
        audit(rt, uow.session, operator, "erasure", application_id, reason=REQUEST)
        uow.commit()


def reissue_access(rt: Runtime, application_id: str, email: str) -> None:
    """Someone asks for a new access token to be sent to ``email``: sent only if it is the
    applicant's address (:meth:`~loan_app.domain.access.ApplicantAccess.reissue_access`).

    Returns nothing whatever happened, on purpose: the answer must not tell whether the
    application exists or the address matched.
    """
    settings = rt.settings
    policy = ReissuePolicy(interval=timedelta(seconds=settings.applicant_token_reissue_seconds),
                           after_end=timedelta(days=settings.applicant_token_days_after_end))
    with unit_of_work(rt) as uow:
        application = uow.applications.get(application_id, for_update=True)
        if application is not None and application.reissue_access(email, utcnow(), policy):
            uow.commit()


def revoke_access(rt: Runtime, application_id: str, by: str) -> None:
    """Retire every applicant token of the application issued so far (raises :class:`NotFound`)."""
    with unit_of_work(rt) as uow:
        application = uow.applications.get(application_id, for_update=True)
        if application is None:
            raise NotFound(application_id)
        application.revoke_access(by)
        uow.commit()


def unit_of_work(rt: Runtime) -> LoanUnitOfWork:
    """loan's unit of work (typed)."""
    return cast(LoanUnitOfWork, rt.uow())


def bound_deadlines(rt: Runtime) -> Deadlines:
    """The deadlines loan's bootstrap built once from the settings (the review's working calendar
    parsed then), rather than built again on every request."""
    limits: Deadlines = rt.bindings.dependencies.deadlines
    return limits


def load_locked(uow: LoanUnitOfWork, application_id: str) -> Application:
    """The application with its row locked and its history (the views answer it in full).

    Raises:
      NotFound.
    """
    application = uow.applications.get(application_id, for_update=True, with_history=True)
    if application is None:
        raise NotFound(application_id)
    return application

"""loan_app's message handlers on an in-memory unit of work: the saga's steps, one message at a time."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

import pytest

from common.kernel.clock import utcnow
from common.messaging.contracts import consumed_by
from common.service.runtime import Runtime
from loan_app import handlers
from loan_app.bootstrap import bootstrap
from loan_app.domain.model import Application, Deadlines
from loan_app.service import definition
from tests.conftest import make_settings
from tests.support.payloads import application as body
from tests.unit.fakes import FakeRepository, FakeUnitOfWork, applied, envelope

LIMITS = Deadlines(step=timedelta(minutes=2), information=timedelta(days=7))
ASSESSMENT = {"score": 720, "payment_incidents": 0, "open_credits": 0, "monthly_income": "5200.00",
              "monthly_debts": "0.00", "debt_to_income": "0.0000", "bureau_found": True}
VALUATION = {"estimated_value": "360000.00", "price_per_m2": "4800.00", "loan_to_value": "0.5556",
             "reference": "city:Lyon", "adjustments": []}


class FakeApplications(FakeRepository):
    def get(self, application_id: str, *, for_update: bool = False) -> Application | None:
        return self.find(id=application_id)

    def overdue_ids(self, now: datetime, limit: int = 100) -> list[str]:
        return [a.id for a in self.rows if a.deadline is not None and a.deadline <= now][:limit]


def submitted() -> FakeUnitOfWork:
    """A unit of work that committed the submission of application ``app-1``."""
    work = FakeUnitOfWork(applications=FakeApplications)
    data = body()
    application = Application("app-1", data["applicant"], data["property"], Decimal(data["loan"]["amount"]),
                              data["loan"]["duration_months"], "app-1", utcnow(), LIMITS)
    application.start_evaluation(application.created_at, LIMITS)  # as loan_app.commands.submit does
    work.applications.add(application)
    work.commit()
    return work


@pytest.fixture
def uow() -> FakeUnitOfWork:
    """A unit of work holding application ``app-1``, just submitted (its first messages already sent)."""
    work = submitted()
    work.outbox.clear()
    return work


def evaluating(uow: FakeUnitOfWork) -> FakeUnitOfWork:
    """The submission already started the evaluation: no message of loan_app's own is needed."""
    assert uow.applications.rows[0].status == "EVALUATING"
    return uow


def test_the_submission_commits_both_steps_with_the_application_ids() -> None:
    uow = submitted()
    assert uow.applications.rows[0].status == "EVALUATING"
    assert uow.sent() == ["ApplicationStatusChanged", "ApplicationSubmitted", "ApplicationStatusChanged",
                          "CheckCredit", "ValueProperty"]
    assert [m.payload["seq"] for m in uow.outbox if m.name == "ApplicationStatusChanged"] == [1, 2]
    assert {(m.application_id, m.correlation_id) for m in uow.outbox} == {("app-1", "app-1")}


def test_loan_no_longer_consumes_its_own_submission() -> None:
    assert "ApplicationSubmitted" not in {spec.name for spec in consumed_by("loan")}


def test_a_message_about_an_unknown_application_changes_and_sends_nothing(uow: FakeUnitOfWork) -> None:
    credit = {"inquiry_id": "b-1", "assessment": ASSESSMENT, "round": 1}
    applied(partial(handlers.on_credit_checked, deadlines=LIMITS), envelope("CreditChecked", credit, "other"), uow)
    assert uow.sent() == [] and uow.applications.rows[0].credit == {"status": "PENDING"}


def test_the_decision_is_asked_once_both_steps_are_done(uow: FakeUnitOfWork) -> None:
    evaluating(uow).outbox.clear()
    credit = {"inquiry_id": "b-1", "assessment": ASSESSMENT, "round": 1}
    applied(partial(handlers.on_credit_checked, deadlines=LIMITS), envelope("CreditChecked", credit), uow)
    assert uow.sent() == []
    valued = envelope("PropertyValued", {"valuation": VALUATION, "round": 1})
    applied(partial(handlers.on_property_valued, deadlines=LIMITS), valued, uow)
    applied(partial(handlers.on_property_valued, deadlines=LIMITS), valued, uow)  # twice: no second request
    assert uow.sent() == ["ApplicationStatusChanged", "MakeDecision"]
    assert uow.applications.rows[0].status == "DECIDING"


def test_a_failed_step_fails_the_application_and_cancels_the_credit_check(uow: FakeUnitOfWork) -> None:
    evaluating(uow).outbox.clear()
    failed = envelope("PropertyValuationFailed", {"code": "VALUATION_UNAVAILABLE", "message": "no price", "round": 1})
    applied(partial(handlers.on_step_failed, step="valuation"), failed, uow)
    application = uow.applications.rows[0]
    assert application.status == "FAILED" and application.failure["code"] == "VALUATION_UNAVAILABLE"
    assert uow.sent() == ["CancelCreditInquiry", "ApplicationStatusChanged"]


def test_a_decision_made_ends_the_saga(uow: FakeUnitOfWork) -> None:
    evaluating(uow)
    applied(partial(handlers.on_credit_checked, deadlines=LIMITS),
            envelope("CreditChecked", {"inquiry_id": "b-1", "assessment": ASSESSMENT, "round": 1}), uow)
    applied(partial(handlers.on_property_valued, deadlines=LIMITS),
            envelope("PropertyValued", {"valuation": VALUATION, "round": 1}), uow)
    uow.outbox.clear()
    decision = {"outcome": "REJECTED", "reasons": [{"code": "DTI_TOO_HIGH"}]}
    applied(partial(handlers.on_decision_made, deadlines=LIMITS),
            envelope("DecisionMade", {"decision": decision, "round": 1}), uow)
    assert uow.applications.rows[0].status == "REJECTED"
    assert [m.payload["reasons"] for m in uow.outbox] == [[{"code": "DTI_TOO_HIGH"}]]


def test_a_decision_failed_for_an_older_round_changes_nothing(uow: FakeUnitOfWork) -> None:
    evaluating(uow).outbox.clear()
    failed = envelope("DecisionFailed", {"code": "DECISION_FAILED", "message": "x", "round": 1})
    applied(handlers.on_decision_failed, failed, uow)  # not DECIDING yet
    assert uow.sent() == [] and uow.applications.rows[0].status == "EVALUATING"


def test_the_compensation_done_is_recorded(uow: FakeUnitOfWork) -> None:
    evaluating(uow)
    applied(handlers.on_inquiry_cancelled,
            envelope("CreditInquiryCancelled", {"inquiry_id": "b-1", "reason": "withdrawn"}), uow)
    assert uow.applications.rows[0].compensations[0]["inquiry_id"] == "b-1"


def test_expiry_ends_an_overdue_application_exactly_once(uow: FakeUnitOfWork) -> None:
    uow.applications.rows[0].deadline = utcnow() - timedelta(seconds=1)
    assert handlers.expire_overdue(lambda: uow) == 1
    assert handlers.expire_overdue(lambda: uow) == 0
    assert uow.applications.rows[0].status == "FAILED"
    assert uow.sent() == ["CancelCreditInquiry", "ApplicationStatusChanged"]  # the check asked is cancelled


def test_the_bootstrap_binds_a_handler_to_every_message_loan_consumes() -> None:
    rt = Runtime(definition(), make_settings("loan", "sqlite://"))
    try:
        bindings = bootstrap(rt)
        assert set(bindings.handlers) == {spec.name for spec in consumed_by("loan")}
        assert bindings.dependencies.deadlines == Deadlines(timedelta(seconds=rt.settings.step_timeout_seconds),
                                                            timedelta(seconds=rt.settings.info_timeout_seconds))
        # The expiry job, and the escalation of reviews past their due time.
        assert [interval for interval, _job in bindings.periodic] == [1.0, 5.0]
    finally:
        rt.dispose()

"""The saga in loan_app: messages applied through the real consumer path on real PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import dramatiq
import pytest

from common.kernel.clock import utcnow
from common.messaging.broker import build_broker
from common.messaging.consumers import register_actors
from common.messaging.outbox import new_id
from common.service.runtime import Runtime
from decision_app.service import definition as decision_definition
from loan_app import commands, handlers, queries
from loan_app.bootstrap import bootstrap
from loan_app.domain.model import Application
from tests.conftest import make_settings
from tests.support.databases import truncate_all
from tests.support.messages import deliver, outbox, run_until_idle, sent_types
from tests.support.payloads import application

ASSESSMENT = {"score": 720, "payment_incidents": 0, "open_credits": 0, "monthly_income": "5200.00",
              "monthly_debts": "0.00", "debt_to_income": "0.0000", "bureau_found": True}
VALUATION = {"estimated_value": "360000.00", "price_per_m2": "4800.00", "loan_to_value": "0.5556",
             "reference": "city:Lyon", "adjustments": []}


@pytest.fixture
def rt(runtime_of: Callable[..., Runtime]) -> Runtime:
    return runtime_of("loan")


def submitted(rt: Runtime, body: dict[str, Any] | None = None) -> str:
    return commands.submit(rt, body or application()).id


def status(rt: Runtime, application_id: str) -> str:
    return queries.application(rt, application_id).status


def test_submission_starts_both_steps_in_parallel(rt: Runtime) -> None:
    application_id = submitted(rt)
    assert status(rt, application_id) == "EVALUATING"
    assert sent_types(rt, application_id) == ["ApplicationStatusChanged", "ApplicationSubmitted",
                                              "ApplicationStatusChanged", "CheckCredit", "ValueProperty"]
    assert [(h.seq, h.to_status) for h in queries.application(rt, application_id).history] == [
        (1, "SUBMITTED"), (2, "EVALUATING")]


def test_decision_requested_only_when_both_steps_are_done(rt: Runtime) -> None:
    application_id = submitted(rt)
    deliver(rt, "CreditChecked", application_id, {"inquiry_id": "b-1", "assessment": ASSESSMENT, "round": 1})
    assert status(rt, application_id) == "EVALUATING"
    deliver(rt, "PropertyValued", application_id, {"valuation": VALUATION, "round": 1})
    assert status(rt, application_id) == "DECIDING"
    assert sent_types(rt, application_id).count("MakeDecision") == 1


def test_duplicate_and_stale_messages_change_nothing(rt: Runtime) -> None:
    application_id = submitted(rt)
    data = {"inquiry_id": "b-1", "assessment": ASSESSMENT, "round": 1}
    assert deliver(rt, "CreditChecked", application_id, data, message_id="m-1") is True
    assert deliver(rt, "CreditChecked", application_id, data, message_id="m-1") is False
    # A decision before DECIDING (reordered) is ignored; so is one for another round.
    deliver(rt, "DecisionMade", application_id, {"decision": {"outcome": "APPROVED"}, "round": 1})
    assert status(rt, application_id) == "EVALUATING"
    deliver(rt, "PropertyValued", application_id, {"valuation": VALUATION, "round": 1})
    deliver(rt, "DecisionMade", application_id, {"decision": {"outcome": "APPROVED"}, "round": 7})
    assert status(rt, application_id) == "DECIDING"
    deliver(rt, "DecisionMade", application_id, {"decision": {"outcome": "REJECTED", "reasons": []}, "round": 1})
    deliver(rt, "DecisionMade", application_id, {"decision": {"outcome": "APPROVED"}, "round": 1})
    assert status(rt, application_id) == "REJECTED"
    history = [h.to_status for h in queries.application(rt, application_id).history]
    assert history == ["SUBMITTED", "EVALUATING", "DECIDING", "REJECTED"]


def test_a_step_that_waited_for_the_lock_numbers_its_transition_after_the_holders(rt: Runtime) -> None:
    """The last transition's number is read after the row lock, not in the locking query's snapshot."""
    application_id = submitted(rt)
    deliver(rt, "CreditChecked", application_id, {"inquiry_id": "b-1", "assessment": ASSESSMENT, "round": 1})
    decided: list[bool] = []
    decision = {"decision": {"outcome": "REJECTED", "reasons": []}, "round": 1}
    waiter = threading.Thread(target=lambda: decided.append(deliver(rt, "DecisionMade", application_id, decision)))
    with rt.uow() as holder:
        holder.applications.get(application_id, for_update=True).record_valuation(
            1, VALUATION, utcnow(), commands.deadlines(rt.settings))  # → DECIDING, seq 3
        waiter.start()
        time.sleep(0.5)  # the DecisionMade handler now waits for the row lock
        holder.commit()
    waiter.join(10)
    app = queries.application(rt, application_id)
    assert decided == [True] and app.status == "REJECTED"
    assert [(h.seq, h.to_status) for h in app.history] == [
        (1, "SUBMITTED"), (2, "EVALUATING"), (3, "DECIDING"), (4, "REJECTED")]


def test_information_loop_resumes_with_a_new_round(rt: Runtime) -> None:
    application_id = submitted(rt, application(applicant={"employment_status": "self_employed"}))
    deliver(rt, "CreditChecked", application_id, {"inquiry_id": "b-1", "assessment": ASSESSMENT, "round": 1})
    deliver(rt, "PropertyValued", application_id, {"valuation": VALUATION, "round": 1})
    requested = [{"name": "declared_income_year_1", "description": "…", "type": "decimal"}]
    deliver(rt, "DecisionMade", application_id,
            {"decision": {"outcome": "INFO_REQUESTED", "requested_information": requested}, "round": 1})
    assert status(rt, application_id) == "INFO_REQUESTED"
    commands.supply_information(rt, application_id, {"declared_income_year_1": "60000.00"})
    app = queries.application(rt, application_id)
    assert app.status == "DECIDING" and app.round == 2
    assert [h.to_status for h in app.history][-3:] == ["INFO_REQUESTED", "EVALUATING", "DECIDING"]


def test_failed_valuation_fails_the_application_and_cancels_the_credit_inquiry(rt: Runtime) -> None:
    application_id = submitted(rt)
    deliver(rt, "CreditChecked", application_id, {"inquiry_id": "b-1", "assessment": ASSESSMENT, "round": 1})
    deliver(rt, "PropertyValuationFailed", application_id,
            {"code": "VALUATION_UNAVAILABLE", "message": "No reference price.", "round": 1})
    app = queries.application(rt, application_id)
    assert app.status == "FAILED"
    assert app.failure == {"code": "VALUATION_UNAVAILABLE", "message": "No reference price."}
    assert "CancelCreditInquiry" in sent_types(rt, application_id)
    deliver(rt, "CreditInquiryCancelled", application_id, {"inquiry_id": "b-1", "reason": "failed"})
    assert queries.application(rt, application_id).credit["cancelled"] is True


def test_overdue_steps_fail_exactly_once(rt: Runtime) -> None:
    rt.settings = rt.settings.with_overrides(step_timeout_seconds=0, info_timeout_seconds=0)
    rt.bindings = bootstrap(rt)  # the handlers' deadlines are those of the settings they are bound with
    waiting = submitted(rt)  # the deadline of the evaluation is set by the submission itself
    assert handlers.expire_overdue(rt.uow) == 1
    app = queries.application(rt, waiting)
    assert app.status == "FAILED" and app.failure["code"] == "STEP_TIMEOUT"
    assert [h.to_status for h in app.history] == ["SUBMITTED", "EVALUATING", "FAILED"]
    assert "CancelCreditInquiry" in sent_types(rt, waiting)  # the check asked for is undone
    assert handlers.expire_overdue(rt.uow) == 0  # exactly once


def test_an_application_left_submitted_fails_at_its_deadline(rt: Runtime) -> None:
    """A row stored ``SUBMITTED`` by an older version (whose own ``ApplicationSubmitted`` started
    the evaluation, and which loan_app no longer consumes) must not wait forever."""
    rt.settings = rt.settings.with_overrides(step_timeout_seconds=0)
    data = application()
    application_id = new_id()
    with rt.uow() as uow:
        uow.applications.add(Application(application_id, data["applicant"], data["property"],
                                         Decimal(data["loan"]["amount"]), data["loan"]["duration_months"],
                                         application_id, utcnow(), commands.deadlines(rt.settings)))
        uow.commit()
    assert handlers.expire_overdue(rt.uow) == 1
    app = queries.application(rt, application_id)
    assert app.status == "FAILED" and app.failure["code"] == "STEP_TIMEOUT"
    assert [h.to_status for h in app.history] == ["SUBMITTED", "FAILED"]
    assert "CancelCreditInquiry" not in sent_types(rt, application_id)  # nothing ran, nothing to undo


def given_up_decision(database_url: str, application_id: str) -> dict[str, Any]:
    """What a real decision worker publishes when it gives up on a poison ``MakeDecision``."""
    truncate_all("decision", database_url)
    decision = Runtime(decision_definition(), make_settings("decision", database_url, step_max_retries=1))
    try:
        broker = build_broker(decision.settings)
        register_actors(decision, broker)
        wire = {"event_id": new_id(), "type": "MakeDecision", "application_id": application_id,
                "correlation_id": application_id, "occurred_at": "2026-11-25T09:00:00+00:00",
                "data": {"loan": {}, "applicant": {}, "credit": {}, "valuation": {}, "information": {}, "round": 1}}
        broker.enqueue(dramatiq.Message(queue_name="decision", actor_name="decision.make_decision", args=(wire,),
                                        kwargs={}, options={}))
        run_until_idle(broker, "decision")
        return next(row.payload for row in outbox(decision, application_id) if row.message_type == "DecisionFailed")
    finally:
        decision.dispose()


def test_a_decision_given_up_fails_the_application_at_once_and_compensates(
    rt: Runtime, pg_urls: dict[str, str]
) -> None:
    application_id = submitted(rt)
    deliver(rt, "CreditChecked", application_id, {"inquiry_id": "b-1", "assessment": ASSESSMENT, "round": 1})
    deliver(rt, "PropertyValued", application_id, {"valuation": VALUATION, "round": 1})
    assert status(rt, application_id) == "DECIDING"
    failed = given_up_decision(pg_urls["decision"], application_id)
    deliver(rt, "DecisionFailed", application_id, failed)
    app = queries.application(rt, application_id)
    assert app.status == "FAILED" and app.failure["code"] == "DECISION_FAILED"
    assert app.history[-1].cause == "decision step failed"
    assert "CancelCreditInquiry" in sent_types(rt, application_id)

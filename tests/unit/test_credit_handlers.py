"""credit_app's handlers on an in-memory unit of work and a fake bureau: checks, cancellations, give-ups."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from common.messaging.contracts import consumed_by
from common.service.runtime import Runtime, TwoPhase
from credit_app import handlers
from credit_app.adapters.bureau import BureauClient, BureauReport
from credit_app.adapters.orm import CreditInquiry
from credit_app.bootstrap import bootstrap
from credit_app.service import definition
from tests.conftest import make_settings
from tests.unit.fakes import FakeRepository, FakeUnitOfWork, applied, envelope

APPLICANT = {"full_name": "Alice Propre", "birth_date": "1992-04-15", "employment_status": "permanent",
             "monthly_income": "5200.00", "monthly_debts": "0.00"}
REPORT = BureauReport(inquiry_id="b-1", found=True, payment_incidents=0, open_credits=1,
                      open_credits_monthly=Decimal("300.00"))


class FakeInquiries(FakeRepository):
    def get(self, application_id: str, *, for_update: bool = False) -> CreditInquiry | None:
        return self.find(application_id=application_id)

    def insert_or_lock(self, values: dict[str, Any]) -> tuple[CreditInquiry, bool]:
        inserted = self.get(values["application_id"]) is None
        if inserted:
            self.add(CreditInquiry(**values))
        return self.get(values["application_id"]), inserted


class FakeBureau:
    def __init__(self) -> None:
        self.asked: list[str] = []
        self.cancelled: list[str] = []

    def inquire(self, reference: str, full_name: str, birth_date: str) -> BureauReport:
        self.asked.append(reference)
        return REPORT

    def cancel(self, inquiry_id: str) -> None:
        self.cancelled.append(inquiry_id)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(inquiries=FakeInquiries)


@pytest.fixture
def bureau() -> FakeBureau:
    return FakeBureau()


CHECK = envelope("CheckCredit", {"applicant": APPLICANT, "round": 1})
CANCEL = envelope("CancelCreditInquiry", {"reason": "application failed"})


def checked(uow: FakeUnitOfWork, bureau: FakeBureau) -> FakeUnitOfWork:
    report = handlers.prepare_check(CHECK, open_uow=lambda: uow, bureau=bureau)  # type: ignore[arg-type]
    return applied(handlers.apply_check, CHECK, uow, report)


def test_a_check_records_the_assessment_and_tells_the_saga(uow: FakeUnitOfWork, bureau: FakeBureau) -> None:
    checked(uow, bureau)
    inquiry = uow.inquiries.rows[0]
    assert inquiry.status == "COMPLETED" and inquiry.bureau_inquiry_id == "b-1" and bureau.asked == ["app-1"]
    [message] = uow.outbox
    assert message.name == "CreditChecked" and message.payload["inquiry_id"] == "b-1"
    assert message.payload["assessment"]["debt_to_income"] == str(inquiry.debt_to_income)
    assert (message.application_id, message.correlation_id, message.payload["round"]) == ("app-1", "app-1", 1)


def test_a_check_redelivered_asks_the_bureau_no_more(uow: FakeUnitOfWork, bureau: FakeBureau) -> None:
    checked(uow, bureau)
    checked(uow, bureau)
    assert bureau.asked == ["app-1"] and uow.sent() == ["CreditChecked"]


def test_a_check_overtaken_by_its_cancellation_undoes_its_bureau_inquiry(
    uow: FakeUnitOfWork, bureau: FakeBureau
) -> None:
    report = handlers.prepare_check(CHECK, open_uow=lambda: uow, bureau=bureau)  # type: ignore[arg-type]
    applied(partial(handlers.cancel, bureau=bureau), CANCEL, uow)  # while the check was at the bureau
    applied(handlers.apply_check, CHECK, uow, report)
    assert uow.sent() == ["CreditInquiryCancelled", "CancelBureauInquiry"]
    assert uow.outbox[1].payload == {"inquiry_id": "b-1"} and uow.inquiries.rows[0].status == "CANCELLED"
    applied(partial(handlers.cancel_at_bureau, bureau=bureau), envelope("CancelBureauInquiry", {"inquiry_id": "b-1"}),
            uow)
    assert bureau.cancelled == ["b-1"]


def test_cancelling_a_check_done_cancels_at_the_bureau_once(uow: FakeUnitOfWork, bureau: FakeBureau) -> None:
    checked(uow, bureau).outbox.clear()
    applied(partial(handlers.cancel, bureau=bureau), CANCEL, uow)
    applied(partial(handlers.cancel, bureau=bureau), CANCEL, uow)  # a compensation delivered twice
    assert bureau.cancelled == ["b-1"] and uow.sent() == ["CreditInquiryCancelled"]
    assert uow.outbox[0].payload == {"inquiry_id": "b-1", "reason": "application failed"}


def test_a_cancellation_before_the_check_leaves_a_marker_and_the_check_then_asks_nobody(
    uow: FakeUnitOfWork, bureau: FakeBureau
) -> None:
    applied(partial(handlers.cancel, bureau=bureau), CANCEL, uow)
    assert uow.outbox[0].payload == {"inquiry_id": None, "reason": "application failed"}
    assert handlers.prepare_check(CHECK, open_uow=lambda: uow, bureau=bureau) is None  # type: ignore[arg-type]
    assert bureau.asked == []


def test_no_inquiry_is_made_for_an_erased_application(uow: FakeUnitOfWork, bureau: FakeBureau) -> None:
    uow.erased_ids.add("app-1")  # the erasure overtook the check
    assert handlers.prepare_check(CHECK, open_uow=lambda: uow, bureau=bureau) is None  # type: ignore[arg-type]
    scrubbed = envelope("CheckCredit", {"applicant": {**APPLICANT, "full_name": None, "birth_date": None}, "round": 1},
                        application_id="app-2")  # a copy erased in loan's outbox before it was sent
    assert handlers.prepare_check(scrubbed, open_uow=lambda: uow, bureau=bureau) is None  # type: ignore[arg-type]
    assert bureau.asked == []
    applied(partial(handlers.cancel, bureau=bureau), CANCEL, uow)  # the compensation still runs
    assert uow.inquiries.rows[0].status == "CANCELLED"


@pytest.mark.parametrize(("error", "code"), [("BureauRejected: 422", "CREDIT_CHECK_REJECTED"),
                                             ("BureauUnavailable: timeout", "CREDIT_CHECK_UNAVAILABLE")])
def test_a_check_given_up_is_recorded_failed_and_told(uow: FakeUnitOfWork, error: str, code: str) -> None:
    applied(handlers.check_failed, envelope("CheckCredit", {"applicant": APPLICANT, "round": 1, "_error": error}), uow)
    assert uow.inquiries.rows[0].status == "FAILED"
    assert [(m.name, m.payload["code"]) for m in uow.outbox] == [("CreditCheckFailed", code)]


def test_the_bootstrap_binds_every_message_credit_consumes_to_the_bureau_given() -> None:
    rt = Runtime(definition(), make_settings("credit", "sqlite://"))
    client = BureauClient("http://127.0.0.1:9")
    try:
        bindings = bootstrap(rt, bureau=client)
        assert set(bindings.handlers) == {spec.name for spec in consumed_by("credit")}
        assert isinstance(bindings.handlers["CheckCredit"], TwoPhase) and set(bindings.on_give_up) == {"CheckCredit"}
        assert bindings.dependencies.bureau is client
    finally:
        client.close()
        rt.dispose()

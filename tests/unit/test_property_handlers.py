"""property_app's handlers on an in-memory unit of work: a valuation, a location without a price, a give-up."""

from __future__ import annotations

from typing import Any

import pytest

from common.messaging.contracts import consumed_by
from common.service.runtime import Runtime, TwoPhase
from property_app import handlers
from property_app.adapters.orm import PropertyValuation
from property_app.bootstrap import bootstrap
from property_app.service import definition
from tests.conftest import make_settings
from tests.support.payloads import BASE
from tests.unit.fakes import FakeRepository, FakeUnitOfWork, applied, envelope


class FakeValuations(FakeRepository):
    def get(self, application_id: str, *, for_update: bool = False) -> PropertyValuation | None:
        return self.find(application_id=application_id)

    def insert_new(self, values: dict[str, Any]) -> PropertyValuation | None:
        if self.get(values["application_id"]) is not None:
            return None
        self.add(PropertyValuation(**values))
        return self.get(values["application_id"])


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(valuations=FakeValuations)


def value(uow: FakeUnitOfWork, **place: str) -> FakeUnitOfWork:
    message = envelope("ValueProperty", {"property": {**BASE["property"], **place}, "loan_amount": "200000",
                                         "round": 1})
    return applied(handlers.apply_valuation, message, uow, handlers.prepare_valuation(message, delay_seconds=0))


def test_a_valuation_is_recorded_once_and_told_to_the_saga(uow: FakeUnitOfWork) -> None:
    value(uow)
    value(uow)  # redelivered: the row is there, nothing more is said
    row = uow.valuations.get("app-1")
    assert row.status == "DONE" and row.reference
    [message] = uow.outbox
    assert message.name == "PropertyValued" and message.payload["round"] == 1
    assert message.payload["valuation"]["loan_to_value"] == str(row.loan_to_value)


def test_a_location_without_a_price_is_an_outcome_not_an_error(uow: FakeUnitOfWork) -> None:
    value(uow, postcode="98000", city="Monaco")
    assert uow.valuations.get("app-1").status == "UNAVAILABLE"
    assert [(m.name, m.payload["code"]) for m in uow.outbox] == [("PropertyValuationFailed", "VALUATION_UNAVAILABLE")]


def test_a_valuation_given_up_fails_the_step_without_a_row(uow: FakeUnitOfWork) -> None:
    applied(handlers.valuation_failed, envelope("ValueProperty", {"round": 2}, "app-7", correlation_id="c-7"), uow)
    assert uow.valuations.rows == []
    [message] = uow.outbox
    assert (message.name, message.payload["code"], message.payload["round"]) == (
        "PropertyValuationFailed", "VALUATION_FAILED", 2)
    assert (message.application_id, message.correlation_id) == ("app-7", "c-7")


def test_the_bootstrap_binds_the_valuation_with_the_configured_delay() -> None:
    rt = Runtime(definition(), make_settings("property", "sqlite://", valuation_delay_ms=250))
    try:
        bindings = bootstrap(rt)
        assert set(bindings.handlers) == {spec.name for spec in consumed_by("property")}
        assert set(bindings.on_give_up) == {"ValueProperty"}
        assert isinstance(bindings.handlers["ValueProperty"], TwoPhase)
        assert bindings.dependencies.delay_seconds == 0.25
    finally:
        rt.dispose()

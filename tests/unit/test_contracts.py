"""The message catalogue and the information-answer checks."""

from __future__ import annotations

import pytest

from common.messaging.contracts import (
    CATALOGUE,
    InvalidPayload,
    UnknownMessage,
    consumed_by,
    spec_for,
    validate_payload,
)
from loan_app.domain.information import check_answers


def test_commands_are_imperative_with_one_consumer_events_past_tense() -> None:
    for spec in CATALOGUE.values():
        if spec.kind == "command":
            assert len(spec.consumers) == 1, spec.name
        else:
            assert spec.name.endswith(("ed", "Failed", "Made")), spec.name


def test_actor_names_and_consumers() -> None:
    assert spec_for("CheckCredit").actor_name("credit") == "credit.check_credit"
    assert {s.name for s in consumed_by("credit")} == {"CheckCredit", "CancelCreditInquiry", "CancelBureauInquiry",
                                                      "PersonalDataErasureRequested"}
    assert {s.name for s in consumed_by("notify")} == {"ApplicationSubmitted", "ApplicationStatusChanged",
                                                      "GenerateDocuments", "SendEmail", "PersonalDataErasureRequested",
                                                      "ApplicantAccessChanged", "SendAccessToken"}
    assert {s.name for s in consumed_by("decision")} == {"MakeDecision", "PersonalDataErasureRequested"}
    with pytest.raises(UnknownMessage):
        spec_for("Nope")


def test_payload_must_carry_its_declared_keys() -> None:
    with pytest.raises(InvalidPayload):
        validate_payload(spec_for("CreditChecked"), {"inquiry_id": "x"})


def test_answers_are_checked_against_what_was_requested() -> None:
    requested = [{"name": "declared_income_year_1", "type": "decimal"}, {"name": "note", "type": "string"}]
    clean, errors = check_answers(requested, {"declared_income_year_1": "1000.5", "note": " hi ", "extra": 1})
    assert clean == {"declared_income_year_1": "1000.50", "note": "hi"}
    assert errors == {"extra": ["This information was not requested."]}
    _, errors = check_answers(requested, {"declared_income_year_1": "-3"})
    assert set(errors) == {"declared_income_year_1", "note"}
    for bad in ("NaN", "Infinity", True, "1e999"):
        _, errors = check_answers(requested[:1], {"declared_income_year_1": bad})
        assert "declared_income_year_1" in errors, bad


def test_retry_delays_beyond_the_consumer_timeout_are_refused_at_start() -> None:
    """dramatiq #827: a delayed retry held longer than RabbitMQ's consumer timeout is redelivered."""
    from common.kernel.settings import Settings
    from common.messaging.broker import RABBITMQ_CONSUMER_TIMEOUT_MS, check_retry_settings

    base = Settings(service="loan", database_url="sqlite://")
    check_retry_settings(base)
    with pytest.raises(ValueError, match="consumer timeout"):
        check_retry_settings(base.with_overrides(max_backoff_ms=RABBITMQ_CONSUMER_TIMEOUT_MS))
    with pytest.raises(ValueError):
        check_retry_settings(base.with_overrides(min_backoff_ms=10_000, max_backoff_ms=1_000))


def test_slow_work_has_a_lane_of_its_own() -> None:
    from common.messaging.contracts import queues_of

    assert queues_of("notify") == ["notify", "notify.documents"]
    assert spec_for("SendEmail").queue("notify") == "notify.documents"
    assert spec_for("ApplicationStatusChanged").queue("notify") == "notify"
    assert queues_of("credit") == ["credit"]


def test_loan_documents_the_information_items_the_policy_asks_for() -> None:
    """loan's OpenAPI names the answers a client may send; they must be the policy's items."""
    from decision_app.domain.policy import SELF_EMPLOYED_ITEMS
    from loan_app.resources.applications.schemas import INFORMATION_ITEMS

    assert INFORMATION_ITEMS == SELF_EMPLOYED_ITEMS


def test_notify_knows_the_same_final_statuses_as_loan() -> None:
    from loan_app.domain.status import TERMINAL
    from notify_app.domain.lifecycle import FINAL_STATUSES

    assert {str(status) for status in TERMINAL} == FINAL_STATUSES

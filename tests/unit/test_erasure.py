"""The anonymisers, without a database: what erasing leaves of a payload, an error, a parked
message and a loan application."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from common.kernel.privacy import ERASED_TEXT, erase, erase_error
from common.messaging.erasure import ErasureRequest, scrub_message
from loan_app.domain.model import Application, Deadlines
from loan_app.domain.status import NotEnded
from tests.support.payloads import application as body

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LIMITS = Deadlines(step=timedelta(minutes=2), information=timedelta(days=7))


def new() -> Application:
    data = body()
    return Application("app-1", data["applicant"], data["property"], Decimal(data["loan"]["amount"]),
                       data["loan"]["duration_months"], "app-1", NOW, LIMITS)


def test_erase_nulls_personal_fields_at_any_depth_and_keeps_the_rest() -> None:
    payload = {"contact": {"full_name": "Alice", "email": "a@x.org", "language": "fr"},
               "applicant": [{"birth_date": "1992-04-15", "monthly_income": "5200"}],
               "property": {"address": "12 rue", "city": "Lyon"}, "round": 1}
    assert erase(payload) == {"contact": {"full_name": None, "email": None, "language": "fr"},
                              "applicant": [{"birth_date": None, "monthly_income": "5200"}],
                              "property": {"address": None, "city": "Lyon"}, "round": 1}
    assert payload["contact"]["full_name"] == "Alice"  # a copy


@pytest.mark.parametrize(("error", "erased"), [
    ("MailerRejected: recipient refused: {'a@x.org': (550, b'no')}", f"MailerRejected: {ERASED_TEXT}"),
    ("dead-lettered by the broker", ERASED_TEXT),
    ("Alice Propre: not found", f"{ERASED_TEXT}"),  # not an exception's kind: nothing kept
    (None, None),
])
def test_an_error_keeps_its_kind_only(error: str | None, erased: str | None) -> None:
    assert erase_error(error) == erased


def test_a_parked_message_loses_its_personal_arguments_and_traceback() -> None:
    message = {"queue_name": "credit", "actor_name": "credit.check_credit", "message_id": "m-1",
               "args": [{"type": "CheckCredit", "data": {"applicant": {"full_name": "Alice", "monthly_debts": "0"}}}],
               "kwargs": {}, "options": {"retries": 3, "traceback": "ValueError: Alice"}}
    scrubbed = scrub_message(message)
    assert scrubbed["args"][0]["data"]["applicant"] == {"full_name": None, "monthly_debts": "0"}
    assert scrubbed["options"] == {"retries": 3, "traceback": ERASED_TEXT}
    assert scrubbed["message_id"] == "m-1" and scrub_message(None) is None


def test_an_ended_application_forgets_who_applied_and_where_and_says_so() -> None:
    application = new()
    application.start_evaluation(NOW, LIMITS)
    application.withdraw(NOW)
    application.collect_messages()
    request = ErasureRequest("request", NOW, "ada")
    application.erase_personal_data(request.payload())
    assert {key: application.applicant[key] for key in ("full_name", "email", "birth_date")} == dict.fromkeys(
        ("full_name", "email", "birth_date"))
    assert application.applicant["monthly_income"] == "5200.00" and application.property["address"] is None
    assert application.property["postcode"] == "69002" and application.summary()["city"] == "Lyon"
    assert application.status == "WITHDRAWN" and application.amount == Decimal("200000")
    [message] = application.collect_messages()
    assert (message.name, message.payload) == ("PersonalDataErasureRequested",
                                               {"reason": "request", "requested_at": NOW.isoformat()})
    assert ErasureRequest.from_payload(message.payload) == ErasureRequest("request", NOW)


def test_a_running_application_is_not_erased() -> None:
    application = new()
    application.start_evaluation(NOW, LIMITS)
    with pytest.raises(NotEnded):
        application.erase_personal_data(ErasureRequest("request", NOW).payload())
    assert application.applicant["full_name"] == "Alice Propre"

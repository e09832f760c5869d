"""``PersonalDataErasureRequested`` in the services that hold copies, on real PostgreSQL.

Whatever the order, the end is erased: data then erasure, erasure then data (the tombstone wins),
duplicates and new requests (idempotent), a failure recorded after the erasure, and a writer
racing an erasure in flight (the erasure lock). Credit asks the real bureau simulator over HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import dramatiq
import pytest
from dramatiq.broker import MessageProxy
from sqlalchemy import func, select, text

from common.database.retention import anonymise_ended
from common.kernel.clock import isoformat, utcnow
from common.messaging.erasure import ErasureRequest, lock_application
from common.messaging.outbox import new_id
from common.messaging.tasks import Supervision
from common.service.runtime import Runtime
from credit_app.adapters.bureau import BureauClient, BureauReport
from credit_app.adapters.orm import CreditInquiry
from credit_app.bootstrap import bootstrap as credit_bootstrap
from notify_app.adapters.orm import Document, EmailRecord, Notification, Recipient
from tests.support.bureau import served_bureau
from tests.support.messages import deliver, outbox

pytestmark = [pytest.mark.postgres]

ALICE = {"full_name": "Alice Propre", "email": "alice@example.org", "birth_date": "1992-04-15",
         "address": "12 rue de la République"}
APPLICANT = {"full_name": ALICE["full_name"], "birth_date": ALICE["birth_date"], "employment_status": "permanent",
             "monthly_income": "5200.00", "monthly_debts": "0.00"}
OFFER = {"amount": "200000", "duration_months": 240, "annual_rate": "0.0355", "monthly_payment": "1165.06",
         "monthly_insurance": "50.00", "total_interest": "79616.01", "total_cost": "279616.01"}
SUMMARY = {"amount": "200000", "duration_months": 240, "city": "Lyon", "postcode": "69002", "kind": "apartment",
           "employment_status": "permanent"}


def erasure_requested(rt: Runtime, application_id: str, message_id: str | None = None) -> bool:
    request = ErasureRequest("request", utcnow())
    return deliver(rt, "PersonalDataErasureRequested", application_id, request.payload(), message_id=message_id)


def confirmations(rt: Runtime, application_id: str) -> list[dict[str, Any]]:
    return [row.payload for row in outbox(rt, application_id) if row.message_type == "PersonalDataErased"]


def text_of_every_row(rt: Runtime) -> str:
    """Every row of every table of the service's database, as text (what an auditor would grep)."""
    with rt.engine.connect() as connection:
        tables = [t.name for t in rt.definition.base.metadata.sorted_tables]
        # Table names from the service's own schema.
        return "\n".join(str(list(connection.execute(text(f"SELECT * FROM {table}"))))  # noqa: S608
                         for table in tables)


def assert_no_personal_data(rt: Runtime) -> None:
    found = text_of_every_row(rt)
    assert [value for value in ALICE.values() if value in found] == []


def failed(rt: Runtime, application_id: str, actor: str, data: dict[str, Any], error: str, *, dead: bool) -> None:
    """What the worker's supervision records when ``actor`` fails on a message (retrying or dead)."""
    message_type = "".join(part.title() for part in actor.split(".")[1].split("_"))
    wire = {"event_id": new_id(), "type": message_type, "application_id": application_id,
            "correlation_id": application_id, "occurred_at": isoformat(utcnow()), "data": data}
    message = MessageProxy(dramatiq.Message(queue_name=rt.name, actor_name=actor, args=(wire,), kwargs={},
                                            options={"retries": 3, "traceback": f"Traceback …\nValueError: {error}"}))
    if dead:
        message.fail()
    supervision = Supervision()
    supervision.register(rt, {})
    supervision.after_process_message(None, message, exception=ValueError(error))  # type: ignore[arg-type]


class CountingBureau(BureauClient):
    """The real client, counting the inquiries it makes (each sends a name and a birth date)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.inquiries: list[tuple[str, str]] = []

    def inquire(self, reference: str, full_name: str, birth_date: str) -> BureauReport:
        self.inquiries.append((full_name, birth_date))
        return super().inquire(reference, full_name, birth_date)


@pytest.fixture
def credit(runtime_of: Callable[..., Runtime]) -> Iterator[tuple[Runtime, CountingBureau]]:
    with served_bureau() as bureau:
        rt = runtime_of("credit", bureau_url=bureau.url)
        client = CountingBureau(bureau.url)
        rt.bindings = credit_bootstrap(rt, bureau=client)
        yield rt, client


def test_credit_scrubs_the_copies_of_a_failed_check_and_confirms_once_per_request(
        credit: tuple[Runtime, CountingBureau]) -> None:
    rt, _bureau = credit
    erased, kept = new_id(), new_id()
    for application_id in (erased, kept):
        data = {"applicant": APPLICANT, "round": 1}
        failed(rt, application_id, "credit.check_credit", data, f"bureau refused {ALICE['full_name']}", dead=False)
        failed(rt, application_id, "credit.check_credit", data, f"bureau refused {ALICE['full_name']}", dead=True)
    message_id = new_id()
    assert erasure_requested(rt, erased, message_id)
    assert not erasure_requested(rt, erased, message_id)  # a duplicate changes nothing
    assert erasure_requested(rt, erased)  # a new request erases again (nothing left) and confirms again
    assert [c["service"] for c in confirmations(rt, erased)] == ["credit", "credit"]

    letters = {row.application_id: row for row in _rows(rt, rt.definition.tables.dead_letters)}
    assert letters[erased].message["args"][0]["data"]["applicant"]["full_name"] is None
    assert letters[erased].message["args"][0]["data"]["applicant"]["monthly_income"] == "5200.00"
    assert letters[erased].error.startswith("ValueError: [erased")
    assert ALICE["full_name"] in str(letters[kept].message) and ALICE["full_name"] in letters[kept].error
    attempts = [row for row in _rows(rt, rt.definition.tables.attempts) if row.application_id == erased]
    assert len(attempts) == 2 and all(ALICE["full_name"] not in f"{a.error}{a.traceback}" for a in attempts)
    with rt.session_factory() as session:
        assert session.get(rt.definition.tables.erasures, erased).reason == "request"


def test_credit_makes_no_inquiry_for_an_erased_application_and_still_compensates(
        credit: tuple[Runtime, CountingBureau]) -> None:
    rt, bureau = credit
    application_id = new_id()
    assert erasure_requested(rt, application_id)  # overtook the check
    deliver(rt, "CheckCredit", application_id, {"applicant": APPLICANT, "round": 1})
    erased_copy = {**APPLICANT, "full_name": None, "birth_date": None}  # scrubbed in loan's outbox before it left
    deliver(rt, "CheckCredit", new_id(), {"applicant": erased_copy, "round": 1})
    assert bureau.inquiries == []
    failed(rt, application_id, "credit.check_credit", {"applicant": APPLICANT, "round": 1},
           f"late failure about {ALICE['full_name']}", dead=True)  # recorded after the erasure
    deliver(rt, "CancelCreditInquiry", application_id, {"reason": "withdrawn by the applicant"})
    with rt.session_factory() as session:
        assert session.get(CreditInquiry, application_id).status == "CANCELLED"
    assert_no_personal_data(rt)


@pytest.fixture
def notify(runtime_of: Callable[..., Runtime]) -> Runtime:
    return runtime_of("notify", extra={"smtp": "off"}, personal_data_retention_days=30)


def submitted(rt: Runtime, application_id: str) -> None:
    deliver(rt, "ApplicationSubmitted", application_id, {
        "summary": SUMMARY, "contact": {"full_name": ALICE["full_name"], "email": ALICE["email"], "language": "en"}})


def approved(rt: Runtime, application_id: str) -> None:
    """Three status changes up to an approval with its offer, then its e-mail task (documents built)."""
    for seq, (status, previous) in enumerate((("SUBMITTED", None), ("EVALUATING", "SUBMITTED"),
                                              ("APPROVED", "EVALUATING")), start=1):
        deliver(rt, "ApplicationStatusChanged", application_id, {
            "seq": seq, "status": status, "previous_status": previous, "cause": "test", "at": isoformat(utcnow()),
            "reasons": [], "offer": OFFER if status == "APPROVED" else None, "requested_information": [],
            "summary": SUMMARY})
    deliver(rt, "SendEmail", application_id, {"seq": 3})
    deliver(rt, "GenerateDocuments", application_id, {"seq": 3})


def test_notify_erases_the_contact_documents_and_email_errors_and_keeps_the_log(notify: Runtime) -> None:
    erased, kept = new_id(), new_id()
    for application_id in (erased, kept):
        submitted(notify, application_id)
        approved(notify, application_id)
    with notify.session_factory() as session:
        session.execute(text("UPDATE emails SET last_error = :e"), {"e": f"recipient refused: {ALICE['email']}"})
        session.commit()
    assert len(_rows(notify, Document, erased)) == 2
    assert erasure_requested(notify, erased)

    recipient = _rows(notify, Recipient, erased)[0]
    assert (recipient.full_name, recipient.email, recipient.status) == (None, None, "APPROVED")
    assert _rows(notify, Document, erased) == [] and len(_rows(notify, Document, kept)) == 2
    assert [e.last_error for e in _rows(notify, EmailRecord, erased)] == [None]
    assert [n.seq for n in _rows(notify, Notification, erased)] == [1, 2, 3]
    assert _rows(notify, Recipient, kept)[0].email == ALICE["email"]
    assert [c["service"] for c in confirmations(notify, erased)] == ["notify"]


def test_notify_erasure_before_the_data_wins(notify: Runtime) -> None:
    application_id = new_id()
    assert erasure_requested(notify, application_id)
    submitted(notify, application_id)
    approved(notify, application_id)
    recipient = _rows(notify, Recipient, application_id)[0]
    assert (recipient.full_name, recipient.email, recipient.status) == (None, None, "APPROVED")
    assert _rows(notify, EmailRecord, application_id) == []  # nobody to write to: no e-mail owed
    assert _rows(notify, Document, application_id) == []
    assert_no_personal_data(notify)


def test_a_contact_written_while_an_erasure_commits_is_erased(notify: Runtime) -> None:
    """The erasure holds its lock (not committed yet); the contact's writer waits for it, then sees it."""
    application_id = new_id()
    writer = threading.Thread(target=submitted, args=(notify, application_id))
    with notify.session_factory() as erasure:
        lock_application(erasure, application_id, exclusive=True)
        erasure.add(notify.definition.tables.erasures(application_id=application_id, reason="request",
                                                      requested_at=utcnow(), erased_at=utcnow()))
        erasure.flush()
        writer.start()
        assert _eventually_waiting(notify), "the writer did not wait for the erasure"
        erasure.commit()
    writer.join(30)
    recipient = _rows(notify, Recipient, application_id)[0]
    assert (recipient.full_name, recipient.email) == (None, None)


def test_notify_retention_anonymises_what_it_saw_end(notify: Runtime) -> None:
    ended, running = new_id(), new_id()
    submitted(notify, ended)
    approved(notify, ended)
    submitted(notify, running)
    assert anonymise_ended(notify, now=utcnow() + timedelta(days=29)) == 0
    assert anonymise_ended(notify, now=utcnow() + timedelta(days=31)) == 1
    assert _rows(notify, Recipient, ended)[0].email is None and _rows(notify, Document, ended) == []
    assert _rows(notify, Recipient, running)[0].email == ALICE["email"]
    with notify.session_factory() as session:
        assert session.get(notify.definition.tables.erasures, ended).reason == "retention"


def _rows(rt: Runtime, model: Any, application_id: str | None = None) -> list[Any]:
    query = select(model)
    if application_id is not None:
        query = query.where(model.application_id == application_id)
    with rt.session_factory() as session:
        return list(session.scalars(query))


def _eventually_waiting(rt: Runtime) -> bool:
    from tests.support.polling import eventually

    def waits() -> int:
        with rt.session_factory() as session:
            return int(session.scalar(select(func.count()).select_from(text("pg_stat_activity")).where(
                text("datname = current_database() AND wait_event_type = 'Lock'"))) or 0)

    return eventually(waits, lambda n: n >= 1, timeout=20) >= 1

"""A cancellation that overtakes the credit check it undoes: the bureau inquiry never stays active.

Real PostgreSQL, the real bureau simulator over HTTP, a real Dramatiq worker (on the stub broker,
so that the test decides when the outbox is relayed). The check is held between its bureau call
and its transaction, the way a slow worker is, while the cancellation commits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import dramatiq
import pytest
from sqlalchemy import func, select, text

from common.messaging.broker import build_broker
from common.messaging.consumers import register_actors
from common.messaging.outbox import new_id
from common.messaging.relay import OutboxRelay
from common.service.runtime import Runtime
from credit_app.adapters.bureau import BureauClient, BureauReport
from credit_app.adapters.orm import CreditInquiry
from credit_app.bootstrap import bootstrap
from credit_app.service import definition
from tests.conftest import make_settings
from tests.support.bureau import Bureau, served_bureau
from tests.support.databases import truncate_all
from tests.support.messages import deliver, outbox
from tests.support.polling import eventually

APPLICANT = {"full_name": "Alice Propre", "birth_date": "1992-04-15", "employment_status": "permanent",
             "monthly_income": "5200.00", "monthly_debts": "0.00"}

pytestmark = [pytest.mark.postgres]


class HeldBureau(BureauClient):
    """The real client, except that a check waits after the bureau answered until ``go`` is set."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.answered = threading.Event()
        self.go = threading.Event()
        self.reports: list[BureauReport] = []

    def inquire(self, reference: str, full_name: str, birth_date: str) -> BureauReport:
        report = super().inquire(reference, full_name, birth_date)
        self.reports.append(report)
        self.answered.set()
        self.go.wait(30)
        return report


@dataclass
class Credit:
    rt: Runtime
    bureau: Bureau
    client: HeldBureau
    broker: dramatiq.Broker
    application_id: str = field(default_factory=new_id)

    def check(self) -> str:
        wire = {"event_id": new_id(), "type": "CheckCredit", "application_id": self.application_id,
                "correlation_id": self.application_id, "occurred_at": "2026-11-25T09:00:00+00:00",
                "data": {"applicant": APPLICANT, "round": 1}}
        message = dramatiq.Message(queue_name="credit", actor_name="credit.check_credit", args=(wire,),
                                   kwargs={}, options={})
        return self.broker.enqueue(message).message_id

    def cancel(self) -> None:
        deliver(self.rt, "CancelCreditInquiry", self.application_id, {"reason": "application failed"})

    def processed(self, message_id: str) -> bool:
        with self.rt.session_factory() as session:
            return session.scalar(text("SELECT count(*) FROM processed_messages WHERE message_id = :m"),
                                  {"m": message_id}) == 1

    def bureau_status_once_relayed(self) -> str:
        """Relay credit's outbox (its messages to itself run on the worker), then ask the bureau."""
        OutboxRelay(self.rt.session_factory, self.rt.definition.outbox_model, self.broker).run_once()
        return self.bureau.inquiry_status(self.client.reports[0].inquiry_id)


@pytest.fixture
def credit(pg_urls: dict[str, str]) -> Iterator[Credit]:
    truncate_all("credit", pg_urls["credit"])
    with served_bureau() as bureau:
        bureau.set_faults(latency_ms=0, failure_rate=0.0)
        rt = Runtime(definition(), make_settings("credit", pg_urls["credit"], bureau_url=bureau.url))
        client = HeldBureau(bureau.url)
        rt.bindings = bootstrap(rt, bureau=client)
        broker = build_broker(rt.settings)
        register_actors(rt, broker)
        broker.declare_queue("loan")  # where CreditChecked / CreditInquiryCancelled would go
        worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
        worker.start()
        try:
            yield Credit(rt, bureau, client, broker)
        finally:
            client.go.set()
            worker.stop()
            rt.dispose()


def test_the_late_check_cancels_its_inquiry_even_when_the_bureau_refuses_at_first(credit: Credit) -> None:
    check = credit.check()
    assert credit.client.answered.wait(30), "the check never reached the bureau"
    credit.cancel()  # overtakes the check: a CANCELLED marker, no bureau inquiry known yet
    credit.bureau.set_faults(failure_rate=1.0)  # the late check's cancel at the bureau fails
    credit.client.go.set()
    assert eventually(lambda: credit.processed(check), bool, timeout=30)
    credit.bureau.set_faults(failure_rate=0.0)
    status = eventually(credit.bureau_status_once_relayed, lambda s: s == "cancelled", timeout=30)
    assert status == "cancelled"


def test_the_late_check_that_collides_with_the_marker_row_cancels_its_inquiry(credit: Credit) -> None:
    credit.client.go.set()
    with credit.rt.session_factory() as marker:  # the cancellation's transaction, not committed yet
        marker.add(CreditInquiry(application_id=credit.application_id, status="CANCELLED", cancel_reason="failed"))
        marker.flush()
        check = credit.check()
        assert credit.client.answered.wait(30), "the check never reached the bureau"
        waiting = eventually(lambda: lock_waits(credit), lambda n: n >= 1, timeout=30)
        assert waiting >= 1, "the check never wrote its row"
        marker.commit()
    assert eventually(lambda: credit.processed(check), bool, timeout=30)
    status = eventually(credit.bureau_status_once_relayed, lambda s: s == "cancelled", timeout=30)
    assert status == "cancelled"


def lock_waits(credit: Credit) -> int:
    """Sessions of credit's database waiting for a lock (the check's insert, behind the marker)."""
    with credit.rt.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(text("pg_stat_activity")).where(
            text("datname = current_database() AND wait_event_type = 'Lock'"))) or 0)


def test_a_check_alone_answers_once_and_a_later_cancel_undoes_it(credit: Credit) -> None:
    credit.client.go.set()
    check = credit.check()
    assert eventually(lambda: credit.processed(check), bool, timeout=30)
    credit.cancel()
    credit.cancel()  # a compensation delivered twice changes nothing the second time
    assert [row.message_type for row in outbox(credit.rt, credit.application_id)] == [
        "CreditChecked", "CreditInquiryCancelled"]
    assert credit.bureau.inquiry_status(credit.client.reports[0].inquiry_id) == "cancelled"

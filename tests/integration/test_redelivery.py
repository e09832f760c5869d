"""Embedded restarts: which sent outbox rows are sent again (``common.messaging.redelivery``), on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.kernel.clock import utcnow
from common.messaging.deadletters import DISCARDED, PARKED, REPLAYED
from common.messaging.redelivery import requeue_unapplied
from common.service.entrypoints import load_definition, migrate
from common.service.runtime import Runtime
from tests.conftest import make_settings


@pytest.fixture
def runtimes(tmp_path: Path) -> dict[str, Runtime]:
    built = {}
    for name in ("loan", "credit"):
        settings = make_settings(name, f"sqlite:///{tmp_path / name}.db")
        migrate(name, settings)
        built[name] = Runtime(load_definition(name), settings)
    return built


def _sent(rt: Runtime, row_id: str, actor: str, message_id: str | None = None) -> None:
    outbox = rt.definition.tables.outbox
    with rt.session_factory() as session, session.begin():
        session.add(outbox(id=row_id, message_id=message_id, event_id=row_id, message_type="CheckCredit",
                           queue=actor.split(".")[0], actor=actor, application_id=None, payload={},
                           created_at=utcnow(), sent_at=utcnow()))


def _settled(rt: Runtime, message_id: str, status: str | None = None) -> None:
    tables = rt.definition.tables
    with rt.session_factory() as session, session.begin():
        if status is None:
            session.add(tables.processed(message_id=message_id, actor="credit.check_credit", processed_at=utcnow()))
        else:
            session.add(tables.dead_letters(message_id=message_id, queue="credit", actor="credit.check_credit",
                                            message={}, status=status))


def _unsent(rt: Runtime) -> set[str]:
    outbox = rt.definition.tables.outbox
    with rt.session_factory() as session:
        return {row.id for row in session.query(outbox).filter(outbox.sent_at.is_(None))}


def test_only_messages_their_consumer_never_settled_are_sent_again(runtimes: dict[str, Runtime]) -> None:
    loan, credit = runtimes["loan"], runtimes["credit"]
    for row_id in ("applied", "lost", "parked", "discarded", "replayed"):
        _sent(loan, row_id, "credit.check_credit")
    _settled(credit, "applied")
    _settled(credit, "parked", PARKED)
    _settled(credit, "discarded", DISCARDED)
    _settled(credit, "replayed", REPLAYED)  # sent again by the replay: may have died in memory too
    # A replay row in the consumer's own outbox carries the original id as its message id.
    _sent(credit, "replay-row", "credit.check_credit", message_id="applied")
    _sent(loan, "to-loan", "loan.credit_checked")  # loan has not applied it either
    _sent(loan, "to-nobody-here", "decision.make_decision")  # a consumer this process does not run

    assert requeue_unapplied(runtimes) == {"loan": 3, "credit": 0}
    assert _unsent(loan) == {"lost", "replayed", "to-loan"}
    assert _unsent(credit) == set()
    assert requeue_unapplied(runtimes) == {"loan": 0, "credit": 0}  # unsent rows are the relay's now

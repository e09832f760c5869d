"""Every non-terminal state has a way out: the table in docs/reliability.md is the code's truth."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from loan_app.domain.model import Application, Deadlines
from loan_app.domain.status import Status
from tests.conftest import ROOT
from tests.support.payloads import application

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LIMITS = Deadlines(step=timedelta(minutes=2), information=timedelta(days=7))
CREDIT = {"score": 700, "payment_incidents": 0, "open_credits": 0, "monthly_income": "5200.00",
          "monthly_debts": "0.00", "debt_to_income": "0", "bureau_found": True}
VALUE = {"estimated_value": "360000.00", "price_per_m2": "4800", "loan_to_value": "0.55", "reference": "x",
         "adjustments": []}


def documented_states() -> set[str]:
    text = (ROOT / "docs/reliability.md").read_text()
    section = text.split("### Every non-terminal state, and what ends it", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z_]+)` \|", section, flags=re.MULTILINE))


def submitted() -> Application:
    data = application()
    return Application("app-1", data["applicant"], data["property"], Decimal(data["loan"]["amount"]),
                       data["loan"]["duration_months"], "app-1", NOW, LIMITS)


def evaluating() -> Application:
    app = submitted()
    app.start_evaluation(NOW, LIMITS)
    return app


def deciding() -> Application:
    app = evaluating()
    app.record_credit(1, "inq-1", CREDIT, NOW, LIMITS)
    app.record_valuation(1, VALUE, NOW, LIMITS)
    return app


def info_requested() -> Application:
    app = deciding()
    app.record_decision(1, {"outcome": "INFO_REQUESTED", "requested_information": []}, NOW, LIMITS)
    return app


REACH: dict[Status, Callable[[], Application]] = {
    Status.SUBMITTED: submitted, Status.EVALUATING: evaluating, Status.DECIDING: deciding,
    Status.INFO_REQUESTED: info_requested,
}


def test_the_documented_table_lists_every_non_terminal_state() -> None:
    assert documented_states() == {status.value for status in Status if not status.terminal}
    assert set(REACH) == {status for status in Status if not status.terminal}


@pytest.mark.parametrize("state", list(REACH))
def test_every_non_terminal_state_has_a_deadline_that_ends_it(state: Status) -> None:
    app = REACH[state]()
    assert app.state is state
    assert app.deadline is not None, f"{state} waits forever"
    assert app.expire_if_overdue(app.deadline) is True
    assert app.terminal

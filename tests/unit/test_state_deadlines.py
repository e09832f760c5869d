"""Every non-terminal state has a way out: the table in docs/reliability.md is the code's truth."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from loan_app.domain.model import Application
from loan_app.domain.status import ALLOWED, Status
from tests.conftest import ROOT
from tests.unit.test_application_model import CREDIT, LIMITS, NOW, VALUE, new


def documented_states() -> set[str]:
    text = (ROOT / "docs/reliability.md").read_text()
    section = text.split("### Every non-terminal state, and what ends it", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z_]+)` \|", section, flags=re.MULTILINE))


def evaluating() -> Application:
    app = new()
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


def referred() -> Application:
    app = deciding()
    app.record_decision(1, {"outcome": "REFERRED", "reasons": []}, NOW, LIMITS)
    return app


REACH: dict[Status, Callable[[], Application]] = {
    Status.SUBMITTED: new, Status.EVALUATING: evaluating, Status.DECIDING: deciding,
    Status.INFO_REQUESTED: info_requested,
}
#: States that wait for people, not for a message: no deadline ends them; at their due time they
#: are escalated to someone who decides (never decided automatically).
ESCALATED: dict[Status, Callable[[], Application]] = {Status.REFERRED: referred}


def test_the_documented_table_lists_every_non_terminal_state() -> None:
    assert documented_states() == {status.value for status in Status if not status.terminal}
    assert set(REACH) | set(ESCALATED) == {status for status in Status if not status.terminal}


@pytest.mark.parametrize("state", list(ESCALATED))
def test_a_state_waiting_for_people_is_escalated_at_its_due_time_never_ended(state: Status) -> None:
    app = ESCALATED[state]()
    assert app.state is state and app.deadline is None and app.review is not None
    due = datetime.fromisoformat(app.review["due_at"])
    assert not app.expire_if_overdue(due + timedelta(days=365))
    assert app.escalate_if_overdue(due) and app.state is state


@pytest.mark.parametrize("state", list(REACH))
def test_every_non_terminal_state_has_a_deadline_that_ends_it(state: Status) -> None:
    app = REACH[state]()
    assert app.state is state
    assert app.deadline is not None, f"{state} waits forever"
    assert app.expire_if_overdue(app.deadline) is True
    assert app.terminal


def test_the_state_diagram_in_the_architecture_document_is_the_state_machine() -> None:
    """docs/architecture.md's Mermaid diagram draws exactly the transitions loan_app allows."""
    text = (ROOT / "docs/architecture.md").read_text()
    diagram = text.split("```mermaid\nstateDiagram-v2", 1)[1].split("```", 1)[0]
    drawn = {(a, b) for a, b in re.findall(r"^\s*([A-Z_]+) --> ([A-Z_]+)", diagram, flags=re.MULTILINE)}
    allowed = {(a.value, b.value) for a, targets in ALLOWED.items() for b in targets}
    assert drawn == allowed

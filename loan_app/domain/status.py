"""The states of an application and the only transitions allowed between them.

The table is the guard against late, duplicated and reordered messages: a message whose
transition is not allowed from the current state changes nothing. Terminal states have no way
out, which is also why no message can start a loop.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    SUBMITTED = "SUBMITTED"
    EVALUATING = "EVALUATING"
    DECIDING = "DECIDING"
    INFO_REQUESTED = "INFO_REQUESTED"
    REFERRED = "REFERRED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL: frozenset[Status] = frozenset(
    {Status.APPROVED, Status.REJECTED, Status.WITHDRAWN, Status.FAILED, Status.EXPIRED}
)

ALLOWED: dict[Status, frozenset[Status]] = {
    Status.SUBMITTED: frozenset({Status.EVALUATING, Status.WITHDRAWN, Status.FAILED}),
    Status.EVALUATING: frozenset({Status.DECIDING, Status.WITHDRAWN, Status.FAILED}),
    Status.DECIDING: frozenset(
        {Status.APPROVED, Status.REJECTED, Status.INFO_REQUESTED, Status.REFERRED, Status.WITHDRAWN, Status.FAILED}
    ),
    # Waits for officers (days): only their confirmed decision (a new round) or a withdrawal ends it.
    Status.REFERRED: frozenset({Status.DECIDING, Status.WITHDRAWN}),
    Status.INFO_REQUESTED: frozenset({Status.EVALUATING, Status.WITHDRAWN, Status.EXPIRED, Status.FAILED}),
    **{status: frozenset() for status in TERMINAL},
}


class InvalidTransition(Exception):
    """A transition the state machine does not allow (e.g. withdrawing an approved application)."""

    def __init__(self, current: Status, target: Status) -> None:
        super().__init__(f"cannot go from {current} to {target}")
        self.current = current
        self.target = target


class NotEnded(Exception):
    """An action that needs an ended application (erasing its personal data) on one still running."""

    def __init__(self, current: Status) -> None:
        super().__init__(f"the application is still {current}")
        self.current = current


def can_move(current: Status, target: Status) -> bool:
    """True when ``current → target`` is in the table."""
    return target in ALLOWED[current]

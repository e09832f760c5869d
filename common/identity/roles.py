"""The staff roles and what each may do.

Three roles, one per job (issue "Who may do what"): an ``officer`` works on applications (the
officers' dashboard, the applications' data, reviews); an ``operator`` keeps the machinery
running (the task dashboard, dead letters: replay and discard, parked outbox rows); a
``supervisor`` is an officer who also decides the reviews escalated past their due time
(issue "Officers decide the hard cases"); an ``admin`` manages accounts, purges, erasures and
policy versions, and may do everything the others may. A view
names the roles it admits; ``admin`` is always among them, so a view that names none is an
admin's only (failing closed: a view someone forgot to annotate is not open to every employee).
"""

from __future__ import annotations

from collections.abc import Iterable

OFFICER = "officer"
OPERATOR = "operator"
SUPERVISOR = "supervisor"
ADMIN = "admin"
#: Every role, in the order the docs list them.
ROLES: tuple[str, ...] = (OFFICER, OPERATOR, SUPERVISOR, ADMIN)
#: Roles that may decide escalated reviews (and every role may what an officer may).
SUPERVISING: frozenset[str] = frozenset({SUPERVISOR, ADMIN})


def may(role: str | None, admitted: Iterable[str]) -> bool:
    """May a holder of ``role`` call a view that admits ``admitted``? Admin always may; a
    supervisor wherever an officer may."""
    allowed = set(admitted)
    return role == ADMIN or (role is not None and (role in allowed or (role == SUPERVISOR and OFFICER in allowed)))


def check_role(role: str) -> str:
    """``role`` if it is one of :data:`ROLES`.

    Raises:
      ValueError: it is not, with the roles there are.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose from {', '.join(ROLES)}")
    return role

"""Admission control of ``POST /loan/applications``: a bounded number of applications in evaluation.

Why: under a surge every stage's queue holds a share of every accepted application, so they all
advance in lock step and almost none finishes (issue 17: 1,800 accepted in 60 s, 133 decided in
the 75 s after). Beyond ``LOANFLOW_MAX_IN_EVALUATION`` applications in evaluation, a new one is
refused with ``503`` + ``Retry-After`` before anything is parsed or written, so the machine
spends its CPU finishing what it accepted, each accepted application waits at most about
``bound / held rate`` in the queues (well inside the step deadline, see docs/operations.md), and
the applicant is told honestly to come back. ``0`` (the default, and ``make run``) admits all.

"In evaluation" is ``SUBMITTED``, ``EVALUATING`` or ``DECIDING``: the states in which the system
has work queued for the application; and, since the applicant only learns a decision once notify
has logged it, the applications whose status changes still wait in notify's queue (its depth over
:data:`NOTIFY_MESSAGES_PER_APPLICATION`, read from the broker by
:mod:`loan_app.adapters.notify_backlog`). Counting evaluations alone let loan decide faster than
notify could tell under a surge: decisions reached applicants ~36 s late with ~10 s of evaluations
admitted (docs/benchmarks.md, 2026-12-05). ``INFO_REQUESTED`` waits for the applicant (days), costs
nothing, and would otherwise let slow applicants shut the door on new ones; answering it resumes
the evaluation without asking admission (work already started finishes).

The count: ``count(*)`` over the ``status`` index, which stays small because it is bounded
(≈0.2 ms of PostgreSQL), reused for :data:`REFRESH_SECONDS` by each process, which adds its own
admissions since (so one process never overshoots, and ``n`` processes by at most
``(n-1) × rate × REFRESH_SECONDS``). A counter row updated by every submission and every terminal
transition was the alternative: exact, but one hot row locked by every POST and every saga step
that ends an application, i.e. the serialisation point we are trying to remove. The bound is a
soft one (a few over is harmless); it must only stop a backlog from growing without limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial, wraps
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from flask_smorest import abort
from flask_smorest.error_handler import ErrorSchema
from sqlalchemy import func, select

from common.service.runtime import Runtime
from common.web.blueprint import RETRY_AFTER_HEADER
from common.web.context import runtime
from loan_app.adapters.notify_backlog import QueueDepth, notify_queue
from loan_app.adapters.orm import applications
from loan_app.domain.status import Status

#: The states that hold queued work for the application (see the module docstring).
IN_EVALUATION = (Status.SUBMITTED.value, Status.EVALUATING.value, Status.DECIDING.value)
#: Messages notify's main queue gets per application on the usual path: ``ApplicationSubmitted``
#: and one ``ApplicationStatusChanged`` per transition (to EVALUATING, to DECIDING, to the decision).
NOTIFY_MESSAGES_PER_APPLICATION = 4
#: Seconds a process reuses a count (plus its own admissions since) before counting again.
REFRESH_SECONDS = 0.25
#: What the 503 tells a client: about the time the system needs to finish a few applications.
RETRY_AFTER_SECONDS = 5
#: The reason code of the 503's ``errors`` (docs/api.md).
REASON = "AT_CAPACITY"
DESCRIPTION = ("At capacity: LOANFLOW_MAX_IN_EVALUATION applications are in evaluation or not yet told; "
               "nothing was stored. "
               f"Try again after Retry-After seconds; `errors.reason` is `{REASON}`.")

_View = TypeVar("_View", bound=Callable[..., Any])


def in_evaluation(rt: Runtime) -> int:
    """How many applications are in evaluation now (one indexed count)."""
    with rt.session_factory() as session:
        query = select(func.count()).select_from(applications).where(applications.c.status.in_(IN_EVALUATION))
        return int(session.scalar(query) or 0)


def untold(depth: Callable[[], int]) -> int:
    """Applications whose status changes still wait in notify's queue (rounded up)."""
    return -(-depth() // NOTIFY_MESSAGES_PER_APPLICATION)


def counted(rt: Runtime, depth: Callable[[], int]) -> int:
    """What the bound counts: applications in evaluation plus those not yet told."""
    return in_evaluation(rt) + untold(depth)


class Gate:
    """One process's view of the count: refreshed every :data:`REFRESH_SECONDS`, plus its own admissions.

    Parameters:
      clock: monotonic seconds (tests pass their own).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._known = 0
        self._at = -REFRESH_SECONDS - 1.0

    def admit(self, bound: int, count: Callable[[], int]) -> bool:
        """True (and counted) if one more application may enter evaluation now.

        ``bound``: the most applications in evaluation (``0`` or less admits all); ``count``
        counts them (a query, called at most every :data:`REFRESH_SECONDS`).
        """
        if bound <= 0:
            return True
        with self._lock:
            now = self.clock()
            if now - self._at >= REFRESH_SECONDS:
                self._known, self._at = count(), now
            if self._known >= bound:
                return False
            self._known += 1
            return True


#: One gate and one queue probe per runtime (a process has one loan runtime; the tests build several).
_gates: WeakKeyDictionary[Runtime, tuple[Gate, QueueDepth]] = WeakKeyDictionary()
_gates_lock = threading.Lock()


def admit(rt: Runtime) -> bool:
    """True if one more application may enter evaluation in ``rt``'s service now."""
    with _gates_lock:
        found = _gates.get(rt)
        if found is None:
            found = _gates[rt] = (Gate(), QueueDepth(rt.settings.broker_url, notify_queue()))
    gate, depth = found
    return gate.admit(rt.settings.max_in_evaluation, partial(counted, rt, depth))


def bounded(blp: Any) -> Callable[[_View], _View]:
    """Decorate a view (outermost, so before the body is parsed) with the admission check, and
    document its 503 in the view's OpenAPI operation.

    Outermost also before the per-address rate limit (``common.web.ratelimit``), whose count is
    a database write: at capacity the 503 writes nothing. One this gate admits and the limit then
    refuses stays in the gate's estimate until its next count (≤ :data:`REFRESH_SECONDS`), which
    errs on the side of refusing."""

    def decorate(view: _View) -> _View:
        @wraps(view)
        def admitted(*args: Any, **kwargs: Any) -> Any:
            if not admit(runtime()):
                abort(503, message="Too many applications are being evaluated; please try again shortly.",
                      errors={"reason": REASON}, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            return view(*args, **kwargs)

        return blp.alt_response(503, schema=ErrorSchema, description=DESCRIPTION,  # type: ignore[no-any-return]
                                headers=RETRY_AFTER_HEADER)(admitted)

    return decorate

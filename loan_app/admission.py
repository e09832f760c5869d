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
admitted (docs/benchmarks.md, 2026-12-05). ``INFO_REQUESTED`` waits for the applicant (days), and
``REFERRED`` for the officers: both cost the machine nothing and would otherwise let slow people
shut the door on new applications; answering resumes the evaluation without asking admission
(work already started finishes).

**Pacing** (``LOANFLOW_ADMISSION_RATE``, applications per second, ``0``: none): a bound alone
admits a burst when a surge begins (the count is low, so ~bound applications enter within
seconds), every stage's queue then holds a share of them and the machine's goodput fell to 0.34–0.53
of the held rate in the first seconds of each phase (docs/benchmarks.md, 2026-12-05). With a rate,
no more than ``rate × window`` applications created in the last ``window`` seconds are admitted,
counted across every loan process from the ``created_at`` index in the same query as the bound:
the machine sees at most the rate it holds, whatever is offered, and finishes what it admitted at
that rate. Set it to the highest rate ``make bench`` held on the machine (docs/operations.md).
It is a sliding window over the last second (longer below one application per second, so that
at least one is admitted per window), not a smoother token bucket: a window needs no state
shared between processes but the table itself.

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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial, wraps
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from flask_smorest import abort
from flask_smorest.error_handler import ErrorSchema
from sqlalchemy import func, or_, select

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
DESCRIPTION = ("At capacity: LOANFLOW_MAX_IN_EVALUATION applications are in evaluation or not yet told, "
               "or LOANFLOW_ADMISSION_RATE applications were admitted in the last second; nothing was stored. "
               f"Try again after Retry-After seconds; `errors.reason` is `{REASON}`.")

_View = TypeVar("_View", bound=Callable[..., Any])


@dataclass(frozen=True)
class Limits:
    """What admission enforces: ``bound`` applications counted (``0``: none) and ``rate``
    applications per second (``0``: none)."""

    bound: int = 0
    rate: float = 0.0

    @property
    def window(self) -> float:
        """Seconds over which the rate is counted: one, or enough for one admission at a low rate."""
        return max(1.0, 1.0 / self.rate) if self.rate > 0 else 1.0

    @property
    def per_window(self) -> float:
        """Applications the rate admits per :attr:`window`."""
        return self.rate * self.window

    @property
    def active(self) -> bool:
        return self.bound > 0 or self.rate > 0


@dataclass(frozen=True)
class Count:
    """One reading: applications the bound counts, and applications created in the rate's window."""

    counted: int = 0
    recent: int = 0


def in_evaluation(rt: Runtime, window: float = 1.0) -> tuple[int, int]:
    """Applications in evaluation now, and those created in the last ``window`` seconds (one query,
    over the ``status`` and ``created_at`` indexes)."""
    since = datetime.now(UTC) - timedelta(seconds=window)
    evaluating = applications.c.status.in_(IN_EVALUATION)
    recent = applications.c.created_at > since
    query = select(func.count().filter(evaluating), func.count().filter(recent)) \
        .select_from(applications).where(or_(evaluating, recent))
    with rt.session_factory() as session:
        row = session.execute(query).one()
        return int(row[0] or 0), int(row[1] or 0)


def untold(depth: Callable[[], int]) -> int:
    """Applications whose status changes still wait in notify's queue (rounded up)."""
    return -(-depth() // NOTIFY_MESSAGES_PER_APPLICATION)


def counted(rt: Runtime, depth: Callable[[], int], limits: Limits) -> Count:
    """What admission counts: applications in evaluation plus those not yet told (when bounded),
    and those created in the rate's window."""
    # The window counted ends now but the reading is kept REFRESH_SECONDS: applications leaving
    # the window meanwhile would still count, and the gate would admit ~1/(1 + 0.25) of the rate
    # (13.4/s of 16 measured). Counting the window's last ``window - REFRESH_SECONDS`` seconds
    # leaves room for what the rate admits until the next reading: exactly the rate, steadily.
    evaluating, recent = in_evaluation(rt, max(limits.window - REFRESH_SECONDS, REFRESH_SECONDS))
    return Count(evaluating + (untold(depth) if limits.bound > 0 else 0), recent)


class Gate:
    """One process's view of the count: refreshed every :data:`REFRESH_SECONDS`, plus its own admissions.

    Parameters:
      clock: monotonic seconds (tests pass their own).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._known = Count()
        self._at = -REFRESH_SECONDS - 1.0

    def admit(self, limits: Limits, count: Callable[[], Count]) -> bool:
        """True (and counted) if one more application may enter evaluation now.

        ``count`` reads the figures (a query, called at most every :data:`REFRESH_SECONDS`);
        without limits nothing is counted and everything admitted.
        """
        if not limits.active:
            return True
        with self._lock:
            now = self.clock()
            if now - self._at >= REFRESH_SECONDS:
                self._known, self._at = count(), now
            known = self._known
            if limits.bound > 0 and known.counted >= limits.bound:
                return False
            if limits.rate > 0 and known.recent >= limits.per_window:
                return False
            self._known = Count(known.counted + 1, known.recent + 1)
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
    limits = Limits(rt.settings.max_in_evaluation, rt.settings.admission_rate)
    return gate.admit(limits, partial(counted, rt, depth, limits))


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

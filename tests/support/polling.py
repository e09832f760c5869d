"""Waiting for an eventually consistent read in end-to-end tests (and for an application to end).

Compensation and notification happen after the application's terminal status is readable, on
other services' queues; under a loaded CI box that can take seconds. Polling a fixed number of
times without a pause measured request speed instead of the system, and failed on slow days.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: The statuses an application ends in, as a client reads them: what the tests and the benchmark wait for.
TERMINAL: frozenset[str] = frozenset({"APPROVED", "REJECTED", "WITHDRAWN", "FAILED", "EXPIRED"})


def eventually(read: Callable[[], T], done: Callable[[T], bool], timeout: float = 30,
               interval: float = 0.2) -> T:
    """Call ``read`` until ``done`` holds for its value or ``timeout`` passes; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(interval)

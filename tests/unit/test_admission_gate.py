"""The admission gate's arithmetic (loan_app/admission.py): a count reused briefly, plus this process's admissions."""

from __future__ import annotations

from loan_app import admission
from loan_app.admission import Gate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_no_bound_admits_without_counting() -> None:
    def count() -> int:
        raise AssertionError("counted")

    gate = Gate(Clock())
    assert all(gate.admit(0, count) for _ in range(1000))


def test_own_admissions_count_until_the_next_refresh() -> None:
    clock, counts = Clock(), []

    def count() -> int:
        counts.append(clock.now)
        return 2

    gate = Gate(clock)
    assert [gate.admit(4, count) for _ in range(3)] == [True, True, False]
    assert counts == [100.0]  # one query for the three calls
    clock.now += admission.REFRESH_SECONDS
    assert gate.admit(4, count) and len(counts) == 2


def test_refusals_are_cheap_until_the_count_is_stale() -> None:
    clock, counts = Clock(), []

    def count() -> int:
        counts.append(1)
        return 10

    gate = Gate(clock)
    assert not any(gate.admit(10, count) for _ in range(50))
    assert len(counts) == 1

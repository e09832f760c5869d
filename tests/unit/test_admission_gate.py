"""The admission gate's arithmetic (loan_app/admission.py): a count reused briefly, plus this process's admissions."""

from __future__ import annotations

from loan_app import admission
from loan_app.admission import Count, Gate, Limits


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_no_bound_admits_without_counting() -> None:
    def count() -> Count:
        raise AssertionError("counted")

    gate = Gate(Clock())
    assert all(gate.admit(Limits(), count) for _ in range(1000))


def test_own_admissions_count_until_the_next_refresh() -> None:
    clock, counts = Clock(), []

    def count() -> Count:
        counts.append(clock.now)
        return Count(2)

    gate = Gate(clock)
    assert [gate.admit(Limits(4), count) for _ in range(3)] == [True, True, False]
    assert counts == [100.0]  # one query for the three calls
    clock.now += admission.REFRESH_SECONDS
    assert gate.admit(Limits(4), count) and len(counts) == 2


def test_refusals_are_cheap_until_the_count_is_stale() -> None:
    clock, counts = Clock(), []

    def count() -> Count:
        counts.append(1)
        return Count(10)

    gate = Gate(clock)
    assert not any(gate.admit(Limits(10), count) for _ in range(50))
    assert len(counts) == 1


def test_the_rate_admits_at_most_its_share_of_a_window_then_refuses_until_it_slides() -> None:
    clock, recent = Clock(), [0]

    def count() -> Count:
        return Count(0, recent[0])

    gate = Gate(clock)
    limits = Limits(rate=4)
    assert [gate.admit(limits, count) for _ in range(6)] == [True] * 4 + [False] * 2
    recent[0] = 4  # the table still holds the four of this second
    clock.now += admission.REFRESH_SECONDS
    assert not gate.admit(limits, count)
    recent[0] = 1  # the window slid past three of them
    clock.now += admission.REFRESH_SECONDS
    assert [gate.admit(limits, count) for _ in range(4)] == [True, True, True, False]


def test_bound_and_rate_each_refuse_on_their_own() -> None:
    gate = Gate(Clock())
    assert not gate.admit(Limits(bound=5, rate=100), lambda: Count(5, 0))
    gate = Gate(Clock())
    assert not gate.admit(Limits(bound=500, rate=2), lambda: Count(0, 2))
    gate = Gate(Clock())
    assert gate.admit(Limits(bound=500, rate=2), lambda: Count(499, 1))


def test_a_rate_below_one_per_second_still_admits_one_per_window() -> None:
    limits = Limits(rate=0.2)
    assert limits.window == 5.0 and limits.per_window == 1.0
    gate = Gate(Clock())
    assert [gate.admit(limits, lambda: Count(0, 0)) for _ in range(2)] == [True, False]

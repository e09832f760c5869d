"""The working calendar (common/kernel/working_time.py): review due times in working hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from common.kernel.working_time import WorkingCalendar

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def test_a_friday_afternoon_referral_is_due_on_monday() -> None:
    calendar = WorkingCalendar()  # 09:00-18:00, Monday to Friday, Paris
    due = calendar.add(paris(2026, 12, 4, 17, 30), 8)  # a Friday
    assert due == paris(2026, 12, 7, 16, 30).astimezone(UTC)  # 0.5 h on Friday, 7.5 h on Monday
    assert calendar.between(paris(2026, 12, 4, 17, 30), due) == timedelta(hours=8)


def test_before_opening_and_on_a_weekend_the_clock_starts_at_the_next_opening() -> None:
    calendar = WorkingCalendar()
    assert calendar.add(paris(2026, 12, 7, 6, 0), 1) == paris(2026, 12, 7, 10, 0).astimezone(UTC)
    assert calendar.add(paris(2026, 12, 5, 12, 0), 1) == paris(2026, 12, 7, 10, 0).astimezone(UTC)


def test_holidays_are_skipped() -> None:
    calendar = WorkingCalendar.parse("09:00-18:00", "mon-fri", "Europe/Paris", ["2026-12-25"])
    # Thursday 24 at 17:00 + 2 h: one hour on the 24th, the 25th is a holiday, one on Monday the 28th.
    assert calendar.add(paris(2026, 12, 24, 17, 0), 2) == paris(2026, 12, 28, 10, 0).astimezone(UTC)


def test_a_working_day_across_the_change_to_summer_time_still_has_nine_hours() -> None:
    calendar = WorkingCalendar.parse("00:00-24:00", "mon-sun", "Europe/Paris")
    # 29 March 2026: clocks go from 02:00 to 03:00 in Paris; the day is 23 real hours long.
    start = paris(2026, 3, 29, 0, 0)
    assert calendar.between(start, paris(2026, 3, 30, 0, 0)) == timedelta(hours=23)
    assert calendar.add(start, 23) == paris(2026, 3, 30, 0, 0).astimezone(UTC)


def test_round_the_clock_calendars_count_clock_time() -> None:
    calendar = WorkingCalendar.parse("00:00-24:00", "mon-sun", "UTC")
    at = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    assert calendar.add(at, 0.002) == at + timedelta(seconds=7.2)


@pytest.mark.parametrize(("hours", "days", "zone", "holidays", "message"), [
    ("9-18", "mon-fri", "Europe/Paris", [], "working hours"),
    ("18:00-09:00", "mon-fri", "Europe/Paris", [], "end after"),
    ("09:00-18:00", "monday", "Europe/Paris", [], "working days"),
    ("09:00-18:00", "mon-fri", "Mars/Olympus", [], "time zone"),
    ("09:00-18:00", "mon-fri", "Europe/Paris", ["25/12/2026"], "holiday"),
])
def test_a_malformed_calendar_is_named(hours: str, days: str, zone: str, holidays: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingCalendar.parse(hours, days, zone, holidays)


def test_day_lists_and_wrapping_ranges() -> None:
    assert WorkingCalendar.parse("09:00-18:00", "mon,wed", "UTC").days == frozenset({0, 2})
    assert WorkingCalendar.parse("09:00-18:00", "sat-mon", "UTC").days == frozenset({5, 6, 0})

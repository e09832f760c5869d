"""Working time: when a review is due, counted in the officers' working hours, not the clock's.

Why: a referral made on Friday at 17:30 with "one working day" to review is due on Monday
afternoon, not on Saturday; a deadline in clock hours would turn every weekend into overdue
reviews and every overdue alert into noise. Banks state review service levels in working hours.

The calendar is a daily window (``09:00-18:00``) on chosen weekdays, in one time zone, minus
holidays, all from the settings. Arithmetic is done on local wall-clock times, so a change to or
from summer time shortens or lengthens no working day. Pure: no clock, no settings object.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: How far :meth:`WorkingCalendar.add` looks ahead before deciding the calendar has no working time.
MAX_DAYS_AHEAD = 3 * 366


@dataclass(frozen=True)
class WorkingCalendar:
    """Working hours: ``start``–``end`` (``end`` may be 24:00, given as ``None``) on ``days``
    (0 = Monday), in ``zone``, except ``holidays``."""

    start: time = time(9)
    end: time | None = time(18)
    days: frozenset[int] = frozenset(range(5))
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Paris"))
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if self.end is not None and self.end <= self.start:
            raise ValueError("working hours must end after they start")
        if not self.days:
            raise ValueError("at least one working day is needed")

    @classmethod
    def parse(cls, hours: str, days: str, zone: str, holidays: Iterable[str] = ()) -> WorkingCalendar:
        """From the settings' text: ``"09:00-18:00"``, ``"mon-fri"`` or ``"mon,tue,thu"``,
        an IANA zone name, ISO dates.

        Raises:
          ValueError: naming what is malformed.
        """
        try:
            first, _, last = hours.partition("-")
            start = time.fromisoformat(first.strip())
            end = None if last.strip() in ("24:00", "24:00:00") else time.fromisoformat(last.strip())
        except ValueError:
            raise ValueError(f"working hours {hours!r}: expected HH:MM-HH:MM, e.g. 09:00-18:00") from None
        return cls(start=start, end=end, days=_days(days), zone=_zone(zone),
                   holidays=frozenset(_date(text) for text in holidays))

    # --- queries ---------------------------------------------------------------------------------

    def add(self, at: datetime, hours: float) -> datetime:
        """The instant ``hours`` working hours after ``at`` (an aware datetime; answered in UTC)."""
        remaining, moment = timedelta(hours=hours), _utc(at)
        day = at.astimezone(self.zone).date()
        for _ in range(MAX_DAYS_AHEAD):
            opens, closes = self._window(day)
            if opens is not None and closes is not None:
                begin = max(opens, moment)
                if begin < closes:
                    if begin + remaining <= closes:
                        return begin + remaining
                    remaining -= closes - begin
            day += timedelta(days=1)
        raise ValueError("the working calendar has no working time in the next three years")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from ``start`` to ``end`` (zero when ``end`` is not after ``start``)."""
        if end <= start:
            return timedelta(0)
        total, first, last = timedelta(0), _utc(start), _utc(end)
        day = start.astimezone(self.zone).date()
        while day <= end.astimezone(self.zone).date():
            opens, closes = self._window(day)
            if opens is not None and closes is not None:
                begin, finish = max(opens, first), min(closes, last)
                if finish > begin:
                    total += finish - begin
            day += timedelta(days=1)
        return total

    # --- internals -------------------------------------------------------------------------------

    def _window(self, day: date) -> tuple[datetime | None, datetime | None]:
        """The working window of ``day`` in UTC, or ``(None, None)`` on a day off."""
        if day.weekday() not in self.days or day in self.holidays:
            return None, None
        opens = datetime.combine(day, self.start, tzinfo=self.zone)
        closes = (datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone) if self.end is None
                  else datetime.combine(day, self.end, tzinfo=self.zone))
        # In UTC from here on: aware datetimes sharing a zone compare and subtract by wall clock,
        # which is wrong across a change to or from summer time.
        return _utc(opens), _utc(closes)


UTC = ZoneInfo("UTC")


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _days(text: str) -> frozenset[int]:
    chosen: set[int] = set()
    for part in (item.strip().lower() for item in text.split(",") if item.strip()):
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ValueError(f"working days {text!r}: use mon…sun, ranges (mon-fri) or lists (mon,wed)")
        a, b = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        chosen.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    if not chosen:
        raise ValueError("at least one working day is needed")
    return frozenset(chosen)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name, e.g. Europe/Paris)") from None


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"holiday {text!r}: expected an ISO date, e.g. 2026-12-25") from None

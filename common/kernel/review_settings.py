"""When an officers' review is due: the working calendar and the review's length (loan reads them).

In a module of their own so that the settings stay one screen per concern; parsed and checked
when the settings are built, so a malformed calendar stops the process at start, named, instead
of failing the first referral.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.kernel.environment import Environment
from common.kernel.working_time import WorkingCalendar


@dataclass(frozen=True)
class ReviewSettings:
    """``LOANFLOW_REVIEW_HOURS`` working hours per review (default 8: one working day); the
    calendar ``LOANFLOW_WORKING_HOURS`` (``09:00-18:00``), ``LOANFLOW_WORKING_DAYS`` (``mon-fri``),
    ``LOANFLOW_WORKING_TIMEZONE`` (``Europe/Paris``), ``LOANFLOW_HOLIDAYS`` (ISO dates, comma
    separated); at risk when at most ``LOANFLOW_REVIEW_AT_RISK_FRACTION`` (0.25) of it is left."""

    hours: float = 8.0
    working_hours: str = "09:00-18:00"
    working_days: str = "mon-fri"
    timezone: str = "Europe/Paris"
    holidays: tuple[str, ...] = ()
    at_risk_fraction: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.hours < 10_000:  # also refuses NaN
            raise ValueError("LOANFLOW_REVIEW_HOURS must be a positive number of working hours")
        if not 0 <= self.at_risk_fraction <= 1:
            raise ValueError("LOANFLOW_REVIEW_AT_RISK_FRACTION must be between 0 and 1")
        self.calendar()

    @classmethod
    def from_env(cls, env: Environment) -> ReviewSettings:
        default = cls()
        return cls(hours=env.number("LOANFLOW_REVIEW_HOURS", default.hours),
                   working_hours=env.text("LOANFLOW_WORKING_HOURS") or default.working_hours,
                   working_days=env.text("LOANFLOW_WORKING_DAYS") or default.working_days,
                   timezone=env.text("LOANFLOW_WORKING_TIMEZONE") or default.timezone,
                   holidays=env.items("LOANFLOW_HOLIDAYS"),
                   at_risk_fraction=env.number("LOANFLOW_REVIEW_AT_RISK_FRACTION", default.at_risk_fraction))

    def calendar(self) -> WorkingCalendar:
        """The officers' working calendar (review due times are counted in it)."""
        return WorkingCalendar.parse(self.working_hours, self.working_days, self.timezone, self.holidays)

"""The index columns of output files: which hours, days, weeks and months a run covers.

Every values/details/id file starts each data row with index columns that depend only on
the study's calendar settings (`generaldata.ini`: `simulation.start`, `simulation.end`,
`january.1st`, `first-month-in-year`, `first.weekday`, `leapyear`). The stand-in solver
must print them exactly like the real solver, so this module reproduces the solver's
calendar: months in the order of the simulated year, week numbers that start at 1 on the
week holding the 1st of January (earlier weeks count down from 52), and a simulated range
cut to whole weeks (the real 8.8 logs "Partial week detected" and prints 8736 hours for
`simulation.end = 365`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Period = Literal["hourly", "daily", "weekly", "monthly", "annual"]
PERIODS: tuple[Period, ...] = ("hourly", "daily", "weekly", "monthly", "annual")

#: Index column labels (line 7 of a file) per period; annual has one unlabeled column.
INDEX_LABELS: dict[str, tuple[str, ...]] = {
    "hourly": ("index", "day", "month", "hour"),
    "daily": ("index", "day", "month"),
    "weekly": ("week",),
    "monthly": ("index", "month"),
    "annual": ("",),
}

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAYS_PER_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _weekday(name: str) -> int:
    try:
        return _WEEKDAYS.index(name.strip().lower())
    except ValueError:
        raise ValueError(f"unknown weekday {name!r}") from None


def _month(name: str) -> int:
    try:
        return _MONTH_NAMES.index(name.strip().lower())
    except ValueError:
        raise ValueError(f"unknown month {name!r}") from None


@dataclass(frozen=True)
class Calendar:
    """A simulated year: per day its month (0-based in simulation order), day of month and
    calendar week; `first_day`..`last_day` (0-based, inclusive) is the simulated range."""

    month_names: tuple[str, ...]
    day_month: tuple[int, ...]
    day_of_month: tuple[int, ...]
    day_week: tuple[int, ...]
    user_week: tuple[int, ...]
    first_day: int
    last_day: int

    @classmethod
    def from_settings(
        cls,
        *,
        simulation_start: int = 1,
        simulation_end: int = 365,
        january_1st: str = "Monday",
        first_month: str = "january",
        first_weekday: str = "Monday",
        leapyear: bool = False,
    ) -> Calendar:
        """The calendar as the solver builds it from `generaldata.ini` (1-based days)."""
        first = _month(first_month)
        real_months = [(m + first) % 12 for m in range(12)]
        lengths = [_DAYS_PER_MONTH[m] + (1 if leapyear and m == 1 else 0) for m in real_months]
        # Weekday of the first simulated day: walk back from 1st January over the months
        # that precede January in the simulated year.
        weekday = _weekday(january_1st)
        weekday = (weekday - sum(lengths[: (12 - first) % 12])) % 7
        week_start = _weekday(first_weekday)
        months: list[int] = []
        day_of_month: list[int] = []
        weeks: list[int] = []
        week = 0
        for m, length in enumerate(lengths):
            for d in range(length):
                if months and weekday == week_start:
                    week += 1
                months.append(m)
                day_of_month.append(d + 1)
                weeks.append(week)
                weekday = (weekday + 1) % 7
        january_week = weeks[sum(lengths[: (12 - first) % 12])]
        user_week = [
            w - january_week + 1 if w >= january_week else 52 - (january_week - 1 - w)
            for w in range(week + 1)
        ]
        total = len(months)
        start = max(1, simulation_start) - 1
        end = min(total, simulation_end) - 1
        whole_weeks = (end - start + 1) // 7
        if whole_weeks < 1:
            raise ValueError(
                f"the simulated range {simulation_start}..{simulation_end} holds no whole week"
            )
        return cls(
            month_names=tuple(MONTHS[m] for m in real_months),
            day_month=tuple(months),
            day_of_month=tuple(day_of_month),
            day_week=tuple(weeks),
            user_week=tuple(user_week),
            first_day=start,
            last_day=start + 7 * whole_weeks - 1,
        )

    def index(self, period: str) -> tuple[list[str], int, int]:
        """Index rows (tab-joined fields, without the leading empty field) and the
        1-based BEGIN/END printed in line 3 of a file of that period."""
        days = range(self.first_day, self.last_day + 1)
        if period == "hourly":
            rows = [
                f"{d * 24 + h + 1}\t{self.day_of_month[d]:02d}\t"
                f"{self.month_names[self.day_month[d]]}\t{h:02d}:00"
                for d in days
                for h in range(24)
            ]
            return rows, self.first_day * 24 + 1, self.last_day * 24 + 24
        if period == "daily":
            rows = [
                f"{d + 1}\t{self.day_of_month[d]:02d}\t{self.month_names[self.day_month[d]]}"
                for d in days
            ]
            return rows, self.first_day + 1, self.last_day + 1
        if period == "weekly":
            first, last = self.day_week[self.first_day], self.day_week[self.last_day]
            return [str(self.user_week[w]) for w in range(first, last + 1)], first + 1, last + 1
        if period == "monthly":
            first, last = self.day_month[self.first_day], self.day_month[self.last_day]
            rows = [f"{m + 1}\t{self.month_names[m]}" for m in range(first, last + 1)]
            return rows, first + 1, last + 1
        if period == "annual":
            return ["Annual"], 1, 1
        raise ValueError(f"unknown period {period!r}")

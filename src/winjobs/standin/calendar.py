"""The simulation calendar: which hours, days, weeks and months a year covers.

Output files have one row per simulated hour/day/week/month, with index columns taken
from the calendar (`1  01  JAN  00:00`), so the stand-in needs the solver's calendar
for `simulation.start`/`simulation.end`: economy drops a trailing partial week (the real
log says "Partial week detected. Not allowed in Economy"), weeks start on the first
simulated day, months follow `first-month-in-year` and `leapyear`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_FULL_NAMES = (
    "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december",
)  # fmt: skip

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Calendar:
    """Simulated days `first_day..last_day` (1-based day of the simulated year)."""

    first_day: int
    last_day: int
    first_month: int = 0  # 0 = january
    leap_year: bool = False

    @classmethod
    def from_settings(
        cls,
        start: int,
        end: int,
        *,
        economy: bool,
        first_month: str = "january",
        leap_year: bool = False,
    ) -> Calendar:
        year_days = 366 if leap_year else 365
        start = min(max(start, 1), year_days)
        end = min(max(end, start), year_days)
        if economy:
            full_weeks = (end - start + 1) // 7
            end = start + max(full_weeks, 1) * 7 - 1
        month = _FULL_NAMES.index(first_month) if first_month in _FULL_NAMES else 0
        return cls(start, end, month, leap_year)

    # -- days -------------------------------------------------------------------------
    @property
    def nb_days(self) -> int:
        return self.last_day - self.first_day + 1

    @property
    def nb_hours(self) -> int:
        return self.nb_days * 24

    @cached_property
    def _month_lengths(self) -> tuple[int, ...]:
        """Lengths of the 12 months of the simulated year, in simulation order."""
        lengths = []
        for k in range(12):
            calendar_month = (self.first_month + k) % 12
            days = _MONTH_DAYS[calendar_month]
            if calendar_month == 1 and self.leap_year:
                days += 1
            lengths.append(days)
        return tuple(lengths)

    @cached_property
    def day_month(self) -> IntArray:
        """For each simulated day, the month number in the year (0..11, simulation order)."""
        bounds = np.cumsum(self._month_lengths)
        days = np.arange(self.first_day - 1, self.last_day)
        return np.searchsorted(bounds, days, side="right").astype(np.int64)

    @cached_property
    def day_of_month(self) -> IntArray:
        """For each simulated day, its 1-based day in its month."""
        starts = np.concatenate(([0], np.cumsum(self._month_lengths)[:-1]))
        days = np.arange(self.first_day - 1, self.last_day)
        return (days - starts[self.day_month] + 1).astype(np.int64)

    def month_name(self, month: int) -> str:
        return MONTH_NAMES[(self.first_month + month) % 12]

    # -- groups: which row of a period each hour (or day) belongs to ------------------
    @cached_property
    def day_week(self) -> IntArray:
        """For each simulated day, its 0-based week row (weeks start on the first day)."""
        return (np.arange(self.nb_days) // 7).astype(np.int64)

    @cached_property
    def months(self) -> IntArray:
        """The months (0..11, simulation order) that have simulated days, ascending."""
        return np.unique(self.day_month)

    @property
    def nb_weeks(self) -> int:
        return int(self.day_week[-1]) + 1

    def hour_groups(self, period: str) -> IntArray:
        """For each simulated hour, the row it adds to in a `period` file."""
        day_of_hour = np.repeat(np.arange(self.nb_days), 24)
        match period:
            case "hourly":
                return np.arange(self.nb_hours, dtype=np.int64)
            case "daily":
                return day_of_hour.astype(np.int64)
            case "weekly":
                return self.day_week[day_of_hour]
            case "monthly":
                row_of_month = np.searchsorted(self.months, self.day_month)
                return row_of_month[day_of_hour].astype(np.int64)
            case "annual":
                return np.zeros(self.nb_hours, dtype=np.int64)
        raise ValueError(f"unknown period {period!r}")

    def nb_rows(self, period: str) -> int:
        return {
            "hourly": self.nb_hours,
            "daily": self.nb_days,
            "weekly": self.nb_weeks,
            "monthly": len(self.months),
            "annual": 1,
        }[period]

    # -- index columns as printed ------------------------------------------------------
    def first_index(self, period: str) -> int:
        """The BEGIN of a file's third line: the first row's index in the whole year."""
        return {
            "hourly": (self.first_day - 1) * 24 + 1,
            "daily": self.first_day,
            "weekly": (self.first_day - 1) // 7 + 1,
            "monthly": int(self.months[0]) + 1,
            "annual": 1,
        }[period]

    def index_rows(self, period: str) -> list[tuple[str, ...]]:
        """The index cells of every row (`('1', '01', 'JAN', '00:00')` for an hour)."""
        first = self.first_index(period)
        match period:
            case "hourly":
                return [
                    (
                        str(first + h),
                        f"{self.day_of_month[h // 24]:02d}",
                        self.month_name(int(self.day_month[h // 24])),
                        f"{h % 24:02d}:00",
                    )
                    for h in range(self.nb_hours)
                ]
            case "daily":
                return [
                    (str(first + d), f"{self.day_of_month[d]:02d}",
                     self.month_name(int(self.day_month[d])))
                    for d in range(self.nb_days)
                ]  # fmt: skip
            case "weekly":
                return [(str(first + w),) for w in range(self.nb_weeks)]
            case "monthly":
                return [(str(int(m) + 1), self.month_name(int(m))) for m in self.months]
            case "annual":
                return [("Annual",)]
        raise ValueError(f"unknown period {period!r}")

    def summary_line(self, nb_years: int) -> str:
        """`Calendar: hours:1..8736, days:1..364, ...` as the real log prints it."""
        return (
            f"Calendar: hours:{self.first_index('hourly')}.."
            f"{self.first_index('hourly') + self.nb_hours - 1}, "
            f"days:{self.first_day}..{self.last_day}, "
            f"weeks:{self.first_index('weekly')}.."
            f"{self.first_index('weekly') + self.nb_weeks - 1}, "
            f"months:{int(self.months[0]) + 1}..{int(self.months[-1]) + 1}, "
            f"years:1..{nb_years}"
        )

    def days_per_month_line(self) -> str:
        counts = np.bincount(self.day_month, minlength=12)
        return "Simulation days per month : " + ", ".join(str(int(c)) for c in counts)

"""Which output row each simulated hour adds to, on top of `winjobs.antares.calendar`.

The calendar itself (simulated range, months, weeks, index columns) belongs to the
output layer, which prints the index columns; the stand-in only needs, per period, the
row of every hour so it can turn a year's hourly values into daily, weekly, monthly and
annual ones, plus the two calendar lines of the real log.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import numpy.typing as npt

from winjobs.antares.calendar import PERIODS, Calendar
from winjobs.antares.ini import IniDocument, as_bool, as_uint

IntArray = npt.NDArray[np.int64]

__all__ = ["PERIODS", "calendar_from_generaldata", "hour_groups", "log_lines", "nb_hours"]


class CachedCalendar(Calendar):
    """The calendar with its index rows computed once per period: a run writes the same
    index columns into every file (tens of files per year), and building 8736 hourly
    rows is the slowest part of writing a small file."""

    @functools.cache  # noqa: B019 - a run keeps one calendar alive anyway
    def index(self, period: str) -> tuple[list[str], int, int]:
        return super().index(period)


def calendar_from_generaldata(generaldata: IniDocument) -> Calendar:
    """The study's calendar from `[general]` of generaldata.ini (solver defaults)."""

    def text(key: str, default: str) -> str:
        value = generaldata.get("general", key)
        return value.strip() if value and value.strip() else default

    base = Calendar.from_settings(
        simulation_start=as_uint(generaldata.get("general", "simulation.start")) or 1,
        simulation_end=as_uint(generaldata.get("general", "simulation.end")) or 365,
        january_1st=text("january.1st", "Monday"),
        first_month=text("first-month-in-year", "january"),
        first_weekday=text("first.weekday", "Monday"),
        leapyear=as_bool(generaldata.get("general", "leapyear")),
    )
    return CachedCalendar(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)})


def _days(calendar: Calendar) -> IntArray:
    return np.arange(calendar.first_day, calendar.last_day + 1, dtype=np.int64)


def nb_hours(calendar: Calendar) -> int:
    return 24 * (calendar.last_day - calendar.first_day + 1)


def day_of_year(calendar: Calendar) -> IntArray:
    """For each simulated hour, its 0-based day in the calendar year (for seasonality)."""
    return np.repeat(_days(calendar), 24)


def hour_groups(calendar: Calendar, period: str) -> tuple[IntArray, int]:
    """For each simulated hour, the 0-based row it adds to in a `period` file, and the
    number of rows (consistent with the index rows `Calendar.index` prints)."""
    days = _days(calendar)
    if period == "hourly":
        return np.arange(len(days) * 24, dtype=np.int64), len(days) * 24
    if period == "daily":
        per_day = days - days[0]
    elif period == "weekly":
        weeks = np.asarray(calendar.day_week, dtype=np.int64)[days]
        per_day = weeks - weeks[0]
    elif period == "monthly":
        months = np.asarray(calendar.day_month, dtype=np.int64)[days]
        per_day = months - months[0]
    elif period == "annual":
        per_day = np.zeros(len(days), dtype=np.int64)
    else:
        raise ValueError(f"unknown period {period!r}")
    return np.repeat(per_day, 24), int(per_day[-1]) + 1


@functools.lru_cache(maxsize=32)
def period_starts(calendar: Calendar, period: str) -> tuple[IntArray, IntArray]:
    """First hour of every row of a `period` file, and the hours in each row (rows are
    runs of consecutive hours, so sums are one `np.add.reduceat`)."""
    groups, rows = hour_groups(calendar, period)
    starts = np.flatnonzero(np.diff(groups, prepend=-1)).astype(np.int64)
    counts = np.diff(np.append(starts, len(groups))).astype(np.int64)
    assert len(starts) == rows
    return starts, counts


def log_lines(calendar: Calendar, nb_years: int) -> list[str]:
    """`Calendar: hours:1..8736, ...` and `Simulation days per month : ...` (real log)."""
    days = _days(calendar)
    weeks = np.asarray(calendar.day_week)[days]
    months = np.asarray(calendar.day_month)[days]
    per_month = np.bincount(months, minlength=12)
    return [
        f"Calendar: hours:{days[0] * 24 + 1}..{days[-1] * 24 + 24}, "
        f"days:{days[0] + 1}..{days[-1] + 1}, weeks:{weeks[0] + 1}..{weeks[-1] + 1}, "
        f"months:{months[0] + 1}..{months[-1] + 1}, years:1..{nb_years}",
        "Simulation days per month : " + ", ".join(str(int(n)) for n in per_month),
    ]

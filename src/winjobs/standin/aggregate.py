"""How hourly values become the other periods, and areas become districts.

Time: energies, costs and hours add up over a period; prices, water values and levels
are averaged; probabilities are 100 when any hour of the period is. Space (the solver's
`spatialAggregate` of each variable): districts add their areas' values, average the
marginal price, set LOLD to 1 where the summed LOLD is positive and LOLP to 100 where
any area's is; H. LEV, H. OVFL and H. VAL have no spatial aggregate (`N/A`).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

import numpy as np
import numpy.typing as npt

from winjobs.antares.calendar import Calendar
from winjobs.standin.calendar import period_starts

FloatArray = npt.NDArray[np.float64]
#: A column's data: a values caption, or (per-plant unit, plant name) in details files.
Key = str | tuple[str, str]


class TimeRule(Enum):
    """How a year's hourly values become daily, weekly, monthly and annual values."""

    SUM = "sum"  # energies, costs, hours
    MEAN = "mean"  # prices, marginal costs, levels
    ANY = "any"  # probabilities: 100 if any hour of the period is 100


_MEAN_CAPTIONS = frozenset({"MRG. PRICE", "H. VAL", "H. LEV", "MARG. COST", "Levels - MWh"})
_ANY_CAPTIONS = frozenset({"LOLP", "CONG. PROB +", "CONG. PROB -"})
#: Captions a district does not aggregate (their cells print `N/A`).
NOT_AGGREGATED = frozenset({"H. LEV", "H. OVFL", "H. VAL"})


def time_rule(key: Key, *, constraint: bool = False) -> TimeRule:
    """The rule of a column (binding constraints' marginal costs are averaged)."""
    caption = key[0] if isinstance(key, tuple) else key
    if constraint or caption in _MEAN_CAPTIONS or caption.endswith("_level"):
        return TimeRule.MEAN
    if caption in _ANY_CAPTIONS:
        return TimeRule.ANY
    return TimeRule.SUM


def aggregate(
    hourly: FloatArray, rules: Sequence[TimeRule], calendar: Calendar, period: str
) -> FloatArray:
    """A year's hourly values (hours x columns, one rule per column) -> one row per
    `period` row, exact (not rounded)."""
    if period == "hourly":
        return hourly
    starts, counts = period_starts(calendar, period)
    sums = np.add.reduceat(hourly, starts, axis=0)
    kind = np.array([rule.value for rule in rules])
    out = sums
    if (kind == TimeRule.MEAN.value).any():
        out = np.where(kind == TimeRule.MEAN.value, sums / counts[:, None], out)
    if (kind == TimeRule.ANY.value).any():
        hits = np.maximum.reduceat(hourly > 0, starts, axis=0)
        out = np.where(kind == TimeRule.ANY.value, np.where(hits, 100.0, 0.0), out)
    return np.asarray(out, dtype=np.float64)


def district_values(members: Sequence[dict[str, FloatArray]]) -> dict[str, FloatArray]:
    """A district's hourly values from its member areas' (captions any member has)."""
    captions = dict.fromkeys(c for m in members for c in m if c not in NOT_AGGREGATED)
    values: dict[str, FloatArray] = {}
    for caption in captions:
        stack = np.array([m[caption] for m in members if caption in m])
        if caption == "MRG. PRICE":
            values[caption] = stack.mean(axis=0)
        elif caption == "LOLD":
            values[caption] = (stack.sum(axis=0) > 0).astype(np.float64)
        elif caption == "LOLP":
            values[caption] = np.where((stack > 0).any(axis=0), 100.0, 0.0)
        else:
            values[caption] = stack.sum(axis=0)
    return values

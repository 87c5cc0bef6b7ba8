"""mc-all statistics: from single years (like the solver), and pooled from partial runs.

Two entry points, both vectorised over whole matrices (any shape of cells):

- `synthesis_from_years(values, years, weights)`: what the solver computes from the exact
  per-year values, with its own arithmetic (FORMAT.md section 6 and the 8.8 sources):
  weights are C `float`s, r_y = w_y / W; EXP = sum r_y x_y; std = sqrt(max(0,
  sum r_y x_y^2 - EXP^2)) (the solver's form, cancellation included, so that the stand-in
  prints what the real solver would); min/max scan the years in ascending order and only
  move on a strict improvement beyond 1e-7, so ties go to the earliest year (the 1-based
  year id is kept); `share` = (1/K) sum x_y, the UNWEIGHTED mean the solver uses for
  CONG. PROB at daily..annual granularity.
- `pool(parts)`: the same statistics of the union of disjoint year sets from each part's
  statistics alone (no per-year data needed, so it works without year-by-year output):
  W = sum W_k; EXP = sum (W_k/W) EXP_k; variance = sum (W_k/W) (std_k^2 + (EXP_k - EXP)^2),
  the pooled form, which avoids the E[x^2] - EXP^2 cancellation; share weighted by year
  counts K_k; min/max: the best candidate, its year the earliest within 1e-7 of it.
  `Pooling` does it one part at a time (a merge of many runs holds one run's table).

Printed partial values are rounded, so a pooled result matches a single run within
printing tolerance, not bit for bit; `pool` is exact on exact inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: A year replaces the current extreme only when better by more than this (the solver's eps).
TIE_EPSILON = 1e-7

Floats = NDArray[np.float64]
Years = NDArray[np.int64]


@dataclass(frozen=True)
class Summary:
    """Statistics of a set of MC years, cell by cell (all arrays share one shape).

    `weight` is W (sum of the years' weights), `count` K (number of years); `min_year`
    and `max_year` hold 1-based year ids (0 where unknown)."""

    weight: float
    count: int
    exp: Floats
    std: Floats
    min: Floats
    min_year: Years
    max: Floats
    max_year: Years
    share: Floats


def synthesis_from_years(
    values: ArrayLike, years: Sequence[int], weights: Sequence[float]
) -> Summary:
    """Statistics of years `years` (1-based ids) whose values are `values[i]` (axis 0 follows
    `years`) with playlist weights `weights`, computed like the solver."""
    data = np.asarray(values, dtype=np.float64)
    if data.shape[0] != len(years) or len(years) != len(weights) or not years:
        raise ValueError("need one weight and one matrix per year, and at least one year")
    order = np.argsort(np.asarray(years), kind="stable")
    ids = np.asarray(years, dtype=np.int64)[order]
    w32 = np.asarray(weights, dtype=np.float32)[order]
    total = np.float32(0)
    for w in w32:  # the solver sums C floats
        total = np.float32(total + w)
    if total <= 0:
        raise ValueError("the years' weights sum to zero")
    shape = data.shape[1:]
    exp = np.zeros(shape)
    squares = np.zeros(shape)
    share = np.zeros(shape)
    low, low_year = np.full(shape, np.finfo(np.float64).max), np.zeros(shape, np.int64)
    high, high_year = np.full(shape, -np.finfo(np.float64).max), np.zeros(shape, np.int64)
    for position, year in enumerate(ids):
        x = data[order[position]]
        ratio = float(w32[position]) / float(total)
        exp += x * ratio
        squares += x * x * ratio
        share += x / len(ids)
        _improve(low, low_year, x, year, lower=True)
        _improve(high, high_year, x, year, lower=False)
    std = np.sqrt(np.maximum(0.0, squares - exp * exp))
    missing = np.isnan(data).all(axis=0)
    low[missing], high[missing] = np.nan, np.nan
    return Summary(float(total), len(ids), exp, std, low, low_year, high, high_year, share)


def pool(parts: Sequence[Summary]) -> Summary:
    """Statistics of the union of the parts' (disjoint) year sets."""
    if not parts:
        raise ValueError("nothing to pool")
    pooling = Pooling([p.weight for p in parts], [p.count for p in parts])
    for part in parts:
        pooling.add(part)
    return pooling.result()


class Pooling:
    """`pool`, one part at a time, holding only running statistics: a merge of a thousand
    partial runs needs the memory of one run's table, not of a thousand.

    The parts' weights and year counts are known before their values (a run's
    parameters.ini says them), so EXP and the shares are summed with their final ratios,
    in the parts' order, as `pool` always did. The variance is Chan's pairwise update
    of the weighted sum of squared deviations (no E[x^2] - EXP^2 cancellation). An
    extreme keeps the earliest year among the candidates within eps of the best so far:
    the same year as the solver's ascending-year scan whenever candidates are equal or
    further apart than eps (always, for printed values); a chain of values closer than
    eps each may end on another year of the same value within eps."""

    def __init__(self, weights: Sequence[float], counts: Sequence[int]) -> None:
        self.weight = float(sum(weights))
        self.count = sum(counts)
        if not weights:
            raise ValueError("nothing to pool")
        if self.weight <= 0:
            raise ValueError("the partial runs' weights sum to zero")
        self._ratios = [
            (w / self.weight, k / self.count) for w, k in zip(weights, counts, strict=True)
        ]
        #: with unit weights a part's share pools like its mean: no second sum is kept
        #: while every part's share is its mean (`_summary` of the merge)
        self._share_is_exp = all(w == c for w, c in self._ratios)
        self._added = 0
        self._seen = 0.0  #: weight of the parts added
        self._exp: Floats | None = None
        self._share: Floats | None = None
        self._mean: Floats | None = None  #: mean of the parts added
        self._squares: Floats | None = None  #: their weighted sum of squared deviations
        self._low: Floats | None = None
        self._low_year: Years | None = None
        self._high: Floats | None = None
        self._high_year: Years | None = None

    def add(self, part: Summary) -> None:
        """Fold in the next part (the parts come in the order of the weights given)."""
        if self._added == len(self._ratios):
            raise ValueError("more parts than weights")
        ratio, count_ratio = self._ratios[self._added]
        self._added += 1
        if self._exp is None:
            self._first(part, ratio)
        else:
            self._next(part, ratio)
        if not self._share_is_exp:
            self._share = _accumulate(self._share, part.share, count_ratio)

    def _first(self, part: Summary, ratio: float) -> None:
        self._exp = _accumulate(None, part.exp, ratio)
        if part.share is not part.exp:
            self._share_is_exp = False
        self._seen = part.weight
        self._mean = np.array(part.exp, dtype=np.float64, copy=True)
        self._squares = part.std * part.std * part.weight
        self._low, self._low_year = _first_extreme(part.min, part.min_year)
        self._high, self._high_year = _first_extreme(part.max, part.max_year)

    def _next(self, part: Summary, ratio: float) -> None:
        assert self._exp is not None and self._mean is not None and self._squares is not None
        if self._share_is_exp and part.share is not part.exp:
            self._share = self._exp.copy()  # so far the shares summed as the means did
            self._share_is_exp = False
        self._exp += part.exp * ratio
        seen, weight = self._seen, part.weight
        total = seen + weight
        spread = part.exp - self._mean
        self._mean += spread * (weight / total)
        spread *= spread
        spread *= seen * weight / total
        spread += part.std * part.std * weight
        self._squares += spread
        self._seen = total
        assert self._low is not None and self._low_year is not None
        assert self._high is not None and self._high_year is not None
        _next_extreme(self._low, self._low_year, part.min, part.min_year, lower=True)
        _next_extreme(self._high, self._high_year, part.max, part.max_year, lower=False)

    def result(self) -> Summary:
        """The pooled statistics, once every part is in."""
        if self._added != len(self._ratios) or self._exp is None:
            raise ValueError(f"{len(self._ratios) - self._added} parts were not added")
        assert self._squares is not None and self._low is not None and self._high is not None
        assert self._low_year is not None and self._high_year is not None
        variance = self._squares / self._seen
        std = np.sqrt(np.maximum(0.0, variance, out=variance), out=variance)
        share = self._exp if self._share_is_exp or self._share is None else self._share
        for years in (self._low_year, self._high_year):
            years[years == _NO_YEAR] = 0
        return Summary(
            self.weight,
            self.count,
            self._exp,
            std,
            self._low,
            self._low_year,
            self._high,
            self._high_year,
            share,
        )


#: no candidate year yet (larger than any, so that `minimum` takes any real one)
_NO_YEAR = np.iinfo(np.int64).max


def _accumulate(total: Floats | None, array: Floats, ratio: float) -> Floats:
    if total is None:
        total = np.zeros_like(np.asarray(array, dtype=np.float64))
    total += array * ratio
    return total


def _first_extreme(values: Floats, years: Years) -> tuple[Floats, Years]:
    best = np.array(values, dtype=np.float64, copy=True)
    return best, np.where(np.isnan(best), _NO_YEAR, years).astype(np.int64)


def _next_extreme(
    best: Floats, best_year: Years, candidate: Floats, year: Years, *, lower: bool
) -> None:
    """Fold one part's extreme into the best so far (in place): the years kept are those
    of the candidates within eps of the new best, the earliest one of them."""
    new = (np.fmin if lower else np.fmax)(best, candidate)  # NaN-skipping
    if lower:
        keep, take = best <= new + TIE_EPSILON, candidate <= new + TIE_EPSILON
    else:
        keep, take = best >= new - TIE_EPSILON, candidate >= new - TIE_EPSILON
    best_year[~keep] = _NO_YEAR
    np.minimum(best_year, np.where(take, year, _NO_YEAR), out=best_year)
    best[...] = new


def _improve(best: Floats, best_year: Years, x: Floats, year: int | Years, *, lower: bool) -> None:
    """The solver's update: take x where it beats the current extreme by more than eps."""
    better = x < best - TIE_EPSILON if lower else x > best + TIE_EPSILON
    np.copyto(best, x, where=better)
    np.copyto(best_year, year, where=better)

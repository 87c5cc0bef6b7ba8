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
    weight = float(sum(p.weight for p in parts))
    count = sum(p.count for p in parts)
    if weight <= 0:
        raise ValueError("the partial runs' weights sum to zero")
    exp = _weighted_sum([p.exp for p in parts], [p.weight / weight for p in parts])
    if all(p.share is p.exp for p in parts) and all(
        p.weight / weight == p.count / count for p in parts
    ):
        share = exp  # unit weights: the shares pool like the means
    else:
        share = _weighted_sum([p.share for p in parts], [p.count / count for p in parts])
    variance = np.zeros_like(exp)
    for p in parts:
        spread = p.exp - exp
        spread *= spread
        spread += p.std * p.std
        spread *= p.weight / weight
        variance += spread
    std = np.sqrt(np.maximum(0.0, variance, out=variance), out=variance)
    low, low_year = _pool_extreme([p.min for p in parts], [p.min_year for p in parts], True)
    high, high_year = _pool_extreme([p.max for p in parts], [p.max_year for p in parts], False)
    return Summary(weight, count, exp, std, low, low_year, high, high_year, share)


def _weighted_sum(arrays: Sequence[Floats], ratios: Sequence[float]) -> Floats:
    total = np.zeros_like(np.asarray(arrays[0], dtype=np.float64))
    for array, ratio in zip(arrays, ratios, strict=True):
        total += array * ratio
    return total


def _improve(best: Floats, best_year: Years, x: Floats, year: int | Years, *, lower: bool) -> None:
    """The solver's update: take x where it beats the current extreme by more than eps."""
    better = x < best - TIE_EPSILON if lower else x > best + TIE_EPSILON
    np.copyto(best, x, where=better)
    np.copyto(best_year, year, where=better)


def _pool_extreme(
    extremes: Sequence[Floats], years: Sequence[Years], lower: bool
) -> tuple[Floats, Years]:
    """One candidate per part: the best value, and the earliest year among the candidates
    within eps of it. This is the solver's ascending-year scan whenever candidates are
    equal or further apart than eps (always, for printed values); a chain of values
    closer than eps each may end on another year of the same value within eps."""
    pick = np.fmin if lower else np.fmax  # NaN-skipping
    best = np.array(extremes[0], dtype=np.float64, copy=True)
    for candidate in extremes[1:]:
        pick(best, candidate, out=best)
    limit = best + TIE_EPSILON if lower else best - TIE_EPSILON
    none = np.iinfo(np.int64).max
    best_year = np.full(best.shape, none, dtype=np.int64)
    for candidate, year in zip(extremes, years, strict=True):
        near = candidate <= limit if lower else candidate >= limit
        np.minimum(best_year, np.where(near, year, none), out=best_year)
    best_year[best_year == none] = 0
    return best, best_year

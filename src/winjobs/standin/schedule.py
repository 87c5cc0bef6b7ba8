"""When the 8.8 solver regenerates time series, and how it groups years in batches.

Both follow `generaldata.ini` (`generate`, `refreshtimeseries`, `refreshinterval<kind>`,
`nbyears`, the playlist) and the thermal clusters' `gen-ts`, never the other years a task
plays, so every worker of a job agrees (`study.cpp` and `solver.hxx`, v8.8.10):

- a kind is generated when `generate` names it (solar and wind only with aggregated
  renewables); it is regenerated every `refreshinterval<kind>` years when
  `refreshtimeseries` names it too, else at year 0 only. Thermal clusters follow `gen-ts`
  (`force generation`, or `use global` when `generate` names thermal);
- years run in batches ("sets of parallel years") of consecutive indices, played or not:
  a batch closes once it holds P played years, and a new one starts at every
  regeneration. P is the parallelism asked (`--force-parallel`), capped by the smallest
  refresh interval and by `nbyears`, then by the largest count of played years any batch
  of the solver's first partition can hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from winjobs.antares.ini import IniDocument, as_uint
from winjobs.standin.system import System

_WORDS = re.compile(r"[,; \t]+")
_NEVER = 2**32 - 1  # UINT_MAX: `y % UINT_MAX == 0` at year 0 only
KINDS = ("load", "solar", "wind", "hydro", "thermal")


def kinds(generaldata: IniDocument, section: str, key: str) -> set[str]:
    """The time-series kinds a setting lists (`generate = thermal, load`)."""
    text = generaldata.get(section, key) or ""
    return {word.lower() for word in _WORDS.split(text) if word}


@dataclass(frozen=True)
class Refresh:
    """Which kinds a run generates and every how many years (`intervals[kind]`)."""

    intervals: dict[str, int]  # generated kinds only
    explicit: dict[str, int]  # kinds both generated and refreshed: their own interval
    global_thermal: bool

    def years(self, kind: str, nbyears: int) -> list[int]:
        interval = self.intervals.get(kind)
        return [] if interval is None else [y for y in range(nbyears) if y % interval == 0]

    def refreshing(self, year: int) -> bool:
        return any(year % interval == 0 for interval in self.intervals.values())


def refresh_plan(generaldata: IniDocument, system: System) -> Refresh:
    generate = kinds(generaldata, "general", "generate")
    refresh = kinds(generaldata, "general", "refreshtimeseries")
    modelling = generaldata.get("other preferences", "renewable-generation-modelling") or ""
    aggregated = modelling.strip().lower() != "clusters"

    def configured(kind: str) -> int:
        return max(1, as_uint(generaldata.get("general", f"refreshinterval{kind}")) or 100)

    intervals: dict[str, int] = {}
    for kind in ("load", "solar", "wind", "hydro"):
        if kind in generate and (aggregated or kind not in ("solar", "wind")):
            intervals[kind] = configured(kind) if kind in refresh else _NEVER
    global_thermal = "thermal" in generate
    clusters = [c.generation for a in system.areas for c in a.clusters]
    if global_thermal or "force" in clusters:
        refreshed = "thermal" in refresh or not global_thermal
        intervals["thermal"] = configured("thermal") if refreshed else _NEVER
    explicit = {k: configured(k) for k in KINDS if k in generate and k in refresh}
    return Refresh(intervals, explicit, global_thermal)


def study_sets(asked: int, refresh: Refresh, nbyears: int, played: set[int]) -> list[int]:
    """The played-year counts of the sets of `Study::getNumberOfCores`' partition (the
    asked parallelism capped by the smallest refresh interval and by `nbyears`)."""
    cap = min([asked, nbyears, *refresh.explicit.values()])
    sizes: list[int] = []
    for year in range(nbyears):
        if not sizes or sizes[-1] == cap or any(year % i == 0 for i in refresh.explicit.values()):
            sizes.append(0)
        sizes[-1] += year in played
    return sizes


def parallelism(asked: int, refresh: Refresh, nbyears: int, played: set[int]) -> int:
    """P: the largest count of played years in a set of that partition (at least 1)."""
    return max(1, *study_sets(asked, refresh, nbyears, played))


def batches(asked: int, refresh: Refresh, nbyears: int, played: set[int]) -> list[list[int]]:
    """The solver's sets of parallel years (`buildSetsOfParallelYears`)."""
    cap = parallelism(asked, refresh, nbyears, played)
    found: list[list[int]] = []
    close = True
    count = 0
    for year in range(nbyears):
        if close or refresh.refreshing(year):
            found.append([])
            count = 0
        found[-1].append(year)
        if year in played:
            count += 1
        close = year in played and count == cap
    return found

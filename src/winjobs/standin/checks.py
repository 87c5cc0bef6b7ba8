"""Studies the real 8.8 solver opens, starts a run folder for, then refuses to simulate.

Such a run ends with exit status 1 and a run folder holding only info.antares-output,
about-the-study/ and simulation.log (which ends with "Quitting the solver gracefully"),
like `real-outputs/failures/`. Two cases, from the solver's study checks (v8.8.10):

- MILP unit commitment without OR-Tools (`--use-ortools` / `--solver`);
- hydro `hot start` (`Study::checkHydroHotStart`) when the simulated calendar is shorter
  than 364 days, when an area with reservoir management initialises its level on another
  month than the first simulated day's, or when years run in parallel in sets of unequal
  sizes (which a task's playlist easily makes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from winjobs.antares.ini import as_uint
from winjobs.standin.inputs import read_optional
from winjobs.standin.model import RunSettings
from winjobs.standin.schedule import refresh_plan, study_sets

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")  # fmt: skip
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True)
class Refusal:
    """What the solver logs: `[error]` lines, then the `[fatal]` reason."""

    errors: tuple[str, ...]
    fatal: str


def _first_days(settings: RunSettings) -> dict[int, int]:
    """0-based first day, in the simulated year, of each civil month (0 = January)."""
    text = (settings.generaldata.get("general", "first-month-in-year") or "january").strip()
    first = _MONTHS.index(text.lower()) if text.lower() in _MONTHS else 0
    leap = (settings.generaldata.get("general", "leapyear") or "").strip().lower() == "true"
    days, starts = 0, {}
    for offset in range(12):
        month = (first + offset) % 12
        starts[month] = days
        days += _DAYS[month] + (1 if leap and month == 1 else 0)
    return starts


def hot_start_problems(settings: RunSettings, threads: int) -> list[str]:
    """Why a hot-start study cannot run (empty when it can, or when it is cold start)."""
    if not settings.study.hot_start:
        return []
    refresh = refresh_plan(settings.generaldata, settings.system)
    sizes = study_sets(threads, refresh, settings.nbyears, set(settings.years))
    if max(sizes, default=0) > 1 and len(set(sizes)) > 1:
        return [
            "Hot Start Hydro option : conflict with parallelization parameters.",
            "Please update relevant simulation parameters or use Cold Start option.    ",
        ]
    general = settings.generaldata
    start = as_uint(general.get("general", "simulation.start")) or 1
    end = as_uint(general.get("general", "simulation.end")) or 365
    if end - start + 1 < 364:
        return [
            "Hot Start Hydro option : simulation calendar must cover one complete year.    ",
            "Please update data or use Cold Start option.",
        ]
    hydro = read_optional(settings.path / "input" / "hydro" / "hydro.ini")
    first_days = _first_days(settings)
    for area in settings.system.areas:
        month = as_uint(hydro.get("initialize reservoir date", area.id)) if hydro else None
        if area.reservoir and first_days.get(month or 0, 0) != start - 1:
            return [
                f"Hot Start Hydro option : area '{area.name}' - hydro level must be initialized "
                "on the first simulation month.    ",
                "Please update data or use Cold Start option.",
            ]
    return []


def refused_after_output(
    settings: RunSettings, given: Sequence[str], threads: int
) -> Refusal | None:
    """Why the real solver stops after creating the run folder (None: it runs); `given`
    lists the long names of the options on the command line, `threads` the years asked
    to run at once."""
    mode = settings.generaldata.get("other preferences", "unit-commitment-mode", "") or ""
    ortools = {"use-ortools", "solver", "ortools-solver"} & set(given)
    if mode.strip().lower() == "milp" and not ortools:
        return Refusal((), "Unit Commitment mode 'milp' must be used with an OR-Tools solver ")
    problems = hot_start_problems(settings, threads)
    if problems:
        errors = [*problems, "hydro hot start is enabled, conditions are not met. Aborting"]
        found = f"Found {len(errors)} errors: The simulation must stop."
        return Refusal((*errors, found), "The simulation must stop.")
    return None

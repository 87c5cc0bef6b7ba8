"""Issue 3's done-when: merging partial runs equals a single run, on every real study.

For each study of `../shared/antares/studies/` the stand-in can run, its played years are
split at random (seeded per study) into 1..4 tasks; each task's copy of the study gets
the task playlist (`write_task_playlist`, what the worker does), is run by the stand-in,
and the partial runs are merged (`merge_runs`, what the driver does). The merged folder
must equal the stand-in's single run of the whole study: mc-ind byte for byte, mc-all and
the summary files within the non-regression tolerances (`tests/helpers/output_compare`).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import shared_studies
from tests.helpers.output_compare import compare_runs
from tests.unit.standin.conftest import copy_study, only_run, run_inprocess, set_settings
from winjobs.antares.ini import IniDocument
from winjobs.antares.merge import merge_runs
from winjobs.antares.playlist import write_task_playlist
from winjobs.antares.study import open_study
from winjobs.antares.values import read_table
from winjobs.standin.version import VERSION_ENV

#: Studies with nothing to check, and why.
NOT_SPLITTABLE = {
    "multistage-derated": "derated = true makes the solver play year 0 only: it cannot be split",
    "milp-accurate-uc": (
        "the real 8.8 solver refuses it without an OR-Tools build "
        "(real-outputs/failures/milp-accurate-uc.stdout.txt) and the stand-in imitates that"
    ),
    "unfeasible-problem-01-v810": (
        "the real solver fails on year 3 (infeasible problem): there is no single run to "
        "reproduce (the stand-in's fault injection covers failing years)"
    ),
}
#: 9.x studies need a solver posing as their version (an 8.8 solver refuses them).
POSED_VERSION = {"final-levels-v920": "9.2", "hybrid-3_8-v930": "9.3"}


def _split(years: list[int], seed: str) -> list[list[int]]:
    """A random partition of `years` into 1..4 non-empty task year sets (at least 2 when
    there are 2 years or more: a single task would test no merging)."""
    rng = random.Random(seed)
    count = rng.randint(min(2, len(years)), min(4, len(years)))
    shuffled = years[:]
    rng.shuffle(shuffled)
    cuts = sorted(rng.sample(range(1, len(years)), count - 1)) if count > 1 else []
    bounds = [0, *cuts, len(years)]
    return [sorted(shuffled[a:b]) for a, b in itertools.pairwise(bounds)]


def test_split_is_a_partition() -> None:
    years = list(range(10))
    for seed in range(20):
        parts = _split(years, str(seed))
        assert 2 <= len(parts) <= 4 and all(parts)
        assert sorted(y for part in parts for y in part) == years


def _copy(source: Path, dest: Path) -> Path:
    """A copy of the study with mc-all on: with `synthesis = false` (5 of the studies)
    there would be no mc-all to merge. The switch changes no number (they depend on
    input/ only)."""
    study = copy_study(source, dest)
    set_settings(study, "output", {"synthesis": "true"})
    return study


def _solve(study: Path, name: str, environ: dict[str, str]) -> Path:
    outcome = run_inprocess(["-n", name, str(study)], environ)
    assert outcome.status == 0, outcome.stdout[-3000:]
    return only_run(study)


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("name", [study.name for study in shared_studies()])
def test_merged_partial_runs_equal_a_single_run(
    name: str, shared_antares: Path, tmp_path: Path
) -> None:
    if name in NOT_SPLITTABLE:
        pytest.skip(NOT_SPLITTABLE[name])
    source = shared_antares / "studies" / name
    environ = {VERSION_ENV: POSED_VERSION[name]} if name in POSED_VERSION else {}
    study = _copy(source, tmp_path / "study")
    facts = open_study(study)
    full = _solve(study, "full", environ)

    partials = []
    for index, years in enumerate(_split(list(facts.years), f"winjobs-{name}")):
        task = _copy(source, tmp_path / f"task-{index}")
        write_task_playlist(task, years)
        partials.append(_solve(task, f"task-{index}", environ))

    merged = tmp_path / "merged"
    report = merge_runs(study, partials, merged, mc_ind="copy")
    assert compare_runs(full, merged, partials=partials) == []
    if facts.hot_start:
        # The stand-in has no hydro memory between years, so its split runs still match;
        # the real solver's would not (pl1-* golden runs): the merge must say so.
        assert any("hot start" in warning for warning in report.warnings)


def _weigh(study: Path, weights: dict[int, str]) -> None:
    set_settings(study, "general", {"user-playlist": "true"})
    path = study / "settings" / "generaldata.ini"
    document = IniDocument.read(path)
    items = [("playlist_year_weight", f"{year},{w}") for year, w in weights.items()]
    document.replace_section("playlist", items)
    document.write(path)
    assert open_study(study).weights[5] == 10.0


def test_merge_of_the_example_study_and_a_wrong_merge_is_caught(
    small_study: Callable[..., Path], tmp_path: Path
) -> None:
    """The bundled example (3 areas, 3 links, 6 years, weighted playlist): the merge
    equals the single run, and the comparison does catch a cell or a byte that is off."""
    study = small_study(nbyears=6, name="example")
    _weigh(study, {0: "4", 2: "0.5", 5: "10"})
    full = _solve(study, "full", {})
    partials = []
    for index, years in enumerate([[0, 3], [1, 2, 5], [4]]):
        task = small_study(nbyears=6, name=f"task-{index}")
        _weigh(task, {0: "4", 2: "0.5", 5: "10"})
        write_task_playlist(task, years)
        partials.append(_solve(task, f"task-{index}", {}))
    merged = tmp_path / "merged"
    merge_runs(study, partials, merged, mc_ind="link")
    assert compare_runs(full, merged, partials=partials) == []

    values = merged / "economy" / "mc-all" / "areas" / "south" / "values-daily.txt"
    table = read_table(values)
    load = [(c.caption, c.stat) for c in table.columns].index(("LOAD", "EXP"))
    table.values[3, load] *= 1.01
    values.write_bytes(table.to_bytes())
    year = merged / "economy" / "mc-ind" / "00003" / "links" / "north - south"
    hourly = year / "values-hourly.txt"
    text = hourly.read_bytes()
    hourly.unlink()  # a link into the task's run: replace it, do not write through it
    hourly.write_bytes(text.replace(b"\t1\t", b"\t2\t", 1))
    problems = compare_runs(full, merged, partials=partials)
    assert any("south/values-daily.txt" in p and "LOAD EXP" in p for p in problems)
    assert any("00003/links/north - south/values-hourly.txt differs" in p for p in problems)

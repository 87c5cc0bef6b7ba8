"""Split a study, run the pieces with the real solver, merge, compare with the full run.

The one way the real-solver merge tests and `benchmarks/fidelity.py` check that a split
run merges back into the single run (issue 12):

1. the full run of the study (its own playlist) and one partial run per chunk of a
   random split (`random_split`, seeded; single-year chunks happen), all by
   `tests.helpers.real_solver.RealSolver` (cached: splits share their chunks' runs);
2. `merge_runs` of the partial runs (folders or zipped runs, as the solver wrote them),
   `mc_ind="copy"` so the cached runs stay intact;
3. `compare_split`: the merged output has exactly the full run's files (zipped when the
   full run is zipped), its mc-all within the tolerances of docs/merging.md, its mc-ind
   and once-per-run files byte for byte, except the run-specific files docs/merging.md
   names (`RUN_SPECIFIC`).
"""

from __future__ import annotations

import itertools
import random
import re
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.output_compare import compare_runs
from tests.helpers.real_solver import RealRun, RealSolver
from winjobs.antares.merge import MergeReport, merge_runs
from winjobs.antares.merge_steps import FIRST_RUN_FILES, WRITTEN_FILES
from winjobs.antares.output import run_files
from winjobs.antares.study import open_study
from winjobs.errors import WinjobsError

_TABLE_OR_ID = re.compile(
    r"(values|details|details-res|details-STstorage|id|binding-constraints)-\w+\.txt"
)
#: Per-year optimisation timings (`# Week Optimization_1_ms ...`): run-specific.
_WEEK_BY_WEEK = re.compile(r"optimization/week-by-week/year_\d+\.txt")
#: Files whose content is specific to one run (docs/merging.md): dates, timings, logs,
#: and what the merge writes itself (the summaries compare_runs checks with tolerances).
RUN_SPECIFIC = WRITTEN_FILES | FIRST_RUN_FILES


def random_split(years: Sequence[int], seed: str, *, most: int = 4) -> list[list[int]]:
    """A random partition of `years` into 2..`most` chunks (1 with a single year); the
    chunks are random subsets, not ranges, and single-year chunks occur."""
    rng = random.Random(seed)
    ordered = sorted(years)
    if len(ordered) < 2:
        return [ordered]
    count = rng.randint(2, min(most, len(ordered)))
    shuffled = ordered[:]
    rng.shuffle(shuffled)
    cuts = sorted(rng.sample(range(1, len(ordered)), count - 1))
    bounds = [0, *cuts, len(ordered)]
    return [sorted(shuffled[a:b]) for a, b in itertools.pairwise(bounds)]


@dataclass
class SplitResult:
    """One split of one study: its chunks, and every problem found (empty: equal)."""

    study: Path
    chunks: list[list[int]]
    problems: list[str] = field(default_factory=list)
    report: MergeReport | None = None
    merged: Path | None = None


def check_split(
    solver: RealSolver, study: Path, chunks: Sequence[Sequence[int]], out: Path
) -> SplitResult:
    """Run the full study and each chunk, merge the chunks into `out`, compare."""
    result = SplitResult(study, [list(c) for c in chunks])
    full = solver.run(study)
    whole = len(chunks) == 1 and chunks[0] == study_years(study)
    # one chunk of every year: the task plays the study's own years, the full run is it
    parts = [full] if whole else [solver.run(study, years=chunk) for chunk in chunks]
    failed = [r for r in [full, *parts] if not r.ok]
    if failed:
        result.problems.append(_failure(failed[0]))
        return result
    runs = [p.folder() for p in parts]
    zipped = open_study(study).zip_output  # what `winjobs merge` does
    if zipped:
        out = out.with_name(out.name + ".zip")
    try:
        result.report = merge_runs(study, runs, out, mc_ind="copy", zipped=zipped)
    except WinjobsError as exc:
        result.problems.append(f"merge refused: {exc}")
        return result
    result.merged = out
    result.problems += compare_split(full.folder(), out, runs, out.parent / f".{out.name}.cmp")
    return result


def _failure(run: RealRun) -> str:
    fatal = run.fatal[0] if run.fatal else run.stdout.strip().splitlines()[-1:]
    return f"the real solver failed (exit {run.exit_code}, years {run.years}): {fatal}"


def compare_split(full: Path, merged: Path, partials: Sequence[Path], scratch: Path) -> list[str]:
    """Problems between the full run and the merged one (folders or zipped runs)."""
    problems: list[str] = []
    if (full.suffix == ".zip") != (merged.suffix == ".zip" and merged.is_file()):
        problems.append(f"the full run is {_kind(full)}, the merged one {_kind(merged)}")
    expected, actual = run_files(full), run_files(merged)
    for name in sorted(expected - actual)[:5]:
        problems.append(f"{name}: missing from the merged run")
    for name in sorted(actual - expected)[:5]:
        problems.append(f"{name}: in the merged run, not in the full run")
    full_dir, merged_dir = _folder(full, scratch / "full"), _folder(merged, scratch / "merged")
    partial_dirs = [_folder(p, scratch / f"part-{k}") for k, p in enumerate(partials)]
    problems += compare_runs(full_dir, merged_dir, partials=partial_dirs)
    for name in sorted(expected & actual - RUN_SPECIFIC):
        if _is_compared_elsewhere(name) or _WEEK_BY_WEEK.fullmatch(name):
            continue
        if (full_dir / name).read_bytes() != (merged_dir / name).read_bytes():
            problems.append(f"{name}: differs from the full run's")
    shutil.rmtree(scratch, ignore_errors=True)
    return problems


def _is_compared_elsewhere(name: str) -> bool:
    """mc-all tables, id files and the digest are compared with tolerances by compare_runs."""
    parts = name.split("/")
    in_mc_all = len(parts) > 2 and parts[0] in ("economy", "adequacy") and parts[1] == "mc-all"
    return in_mc_all and (
        _TABLE_OR_ID.fullmatch(parts[-1]) is not None or parts[-2:] == ["grid", "digest.txt"]
    )


def _kind(run: Path) -> str:
    return "a zipped run" if run.suffix == ".zip" and run.is_file() else "a folder"


def _folder(run: Path, dest: Path) -> Path:
    if run.is_dir():
        return run
    with zipfile.ZipFile(run) as zf:
        zf.extractall(dest)
    return dest


def study_years(study: Path) -> list[int]:
    return list(open_study(study).years)

"""Fidelity: split real runs, merged, equal the full real run.

Runs the REAL Antares 8.8.10 solver (`../shared/antares/solver-8.8/antares-solver`) over
every shared study and its variants (output filters, thematic trimming, zip...: see
`tests/helpers/study_variants.py`), cuts each into several random splits (seeded; chunks
of one year occur), runs each chunk, merges the chunks with `merge_runs` and compares the
result with the full run (`tests/helpers/fidelity.py`: same files, mc-all and digest within
the tolerances of docs/merging.md, every other file byte for byte). Prints one line per
case, then

    merge equals full run on X/Y

with the reason of each miss. Studies winjobs does not split are listed apart with the
reason: the real solver cannot run them (9.x studies, MILP without OR-Tools), or they
are refused at submit, or they differ by nature and are warned about (hydro hot start).
A study that runs in one piece (derated, FLOW QUAD. on a loop) is checked as one task.
Chunk runs are cached, so splits share them; `--jobs` solver runs go at once.

    uv run python benchmarks/fidelity.py [--splits 3] [--variants full,zip] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers

from tests.conftest import shared_studies
from tests.helpers.fidelity import SplitResult, check_split, random_split
from tests.helpers.real_solver import REAL_SOLVER_REASON, RealSolver, real_solver_path
from tests.helpers.study_variants import VARIANTS, NotApplicable, VariantCache

from winjobs.antares.study import open_study
from winjobs.errors import StudyError

#: The issue's variants: everything written, the filter, thematic and zip variants.
DEFAULT_VARIANTS = ("full", "filters-no-year-by-year", "filters-random", "thematic", "zip")
#: Shared studies the real 8.8 solver cannot run, or whose split runs differ by nature.
NOT_SPLIT = {
    "final-levels-v920": "a 9.2 study: the 8.8 solver refuses it (Invalid version for the study)",
    "hybrid-3_8-v930": "a 9.3 study: the 8.8 solver refuses it (Invalid version for the study)",
    "milp-accurate-uc": "MILP unit commitment: the shared solver has no OR-Tools",
    "playlist-1": "hydro hot start: split runs differ by nature (warned at submit)",
    "hydro-H700-23": "hydro hot start: split runs differ by nature (warned at submit)",
}


def _splits(study: Path, name: str, count: int) -> list[list[list[int]]]:
    facts = open_study(study)
    years = list(facts.years)
    if not facts.splittable:
        return [[years]]
    found: dict[tuple[tuple[int, ...], ...], list[list[int]]] = {}
    for seed in range(count * 4):  # distinct partitions (a 2-year study has only one)
        chunks = random_split(years, f"fidelity-{name}-{seed}")
        found.setdefault(tuple(sorted(tuple(c) for c in chunks)), chunks)
        if len(found) == count:
            break
    return list(found.values())


def _prefetch(solver: RealSolver, study: Path, splits: list[list[list[int]]], jobs: int) -> None:
    """Run the full study and every chunk, `jobs` at a time (the cache keeps them)."""
    work: list[list[int] | None] = [None, *{tuple(c): c for s in splits for c in s}.values()]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(lambda years: solver.run(study, years=years), work))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", type=int, default=3, help="random splits per case")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS))
    parser.add_argument("--studies", default="", help="comma-separated names (default: all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: temporary)")
    args = parser.parse_args()
    executable = real_solver_path()
    if executable is None:
        print(REAL_SOLVER_REASON)
        return 2
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    work = args.keep or Path(tempfile.mkdtemp(prefix="winjobs-fidelity-"))
    solver = RealSolver(executable, work / "runs")
    cache = VariantCache(work / "variants")
    wanted = {s for s in args.studies.split(",") if s}
    started = time.monotonic()
    results: list[tuple[str, SplitResult]] = []
    for source in shared_studies():
        if wanted and source.name not in wanted:
            continue
        if source.name in NOT_SPLIT:
            print(f"skip  {source.name}: {NOT_SPLIT[source.name]}")
            continue
        for variant in variants:
            label = f"{source.name} [{variant}]"
            try:
                study = cache.get(source, variant)
            except NotApplicable as exc:
                print(f"skip  {label}: the variant does not apply: {exc}")
                continue
            try:
                splits = _splits(study, f"{source.name}-{variant}", args.splits)
            except StudyError as exc:
                print(f"skip  {label}: refused at submit: {exc}")
                continue
            _prefetch(solver, study, splits, args.jobs)
            for index, chunks in enumerate(splits):
                out = work / "merged" / f"{source.name}-{variant}-{index}"
                result = check_split(solver, study, chunks, out)
                results.append((label, result))
                verdict = "equal" if not result.problems else "MISS "
                print(f"{verdict} {label} split {chunks}", flush=True)
                for problem in result.problems[:3]:
                    print(f"        {problem}")
    equal = sum(1 for _, r in results if not r.problems)
    print(f"\nmerge equals full run on {equal}/{len(results)}")
    for label, result in results:
        if result.problems:
            print(f"  miss: {label} {result.chunks}: {result.problems[0]}")
    print(
        f"{time.monotonic() - started:.0f} s in all, {solver.seconds:.0f} s of solver time, "
        f"{solver.count} real runs"
    )
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if equal == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

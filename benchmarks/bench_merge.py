"""Merge speed against pandas' C reader, measured in the same run.

Generates 4 partial runs (2 MC years each) of a study with 20 areas and 10 links: mc-all
values and id files at all five granularities with the 8.8 variable set (321 area
columns), written by winjobs' own values writer from `synthesis_from_years`. About 60% of
the area variables are zero, like in real studies (emissions, storage groups...).
Then it times
- `merge_runs` of the 4 runs (no year-by-year output: mc-all pooling only), and
- `pandas.read_csv(path, sep='\\t', skiprows=7, header=None, engine='c')` of the same
  values/id files,
and prints MB/s of values files processed and the ratio. Target: merge <= 2x the read.
The machine is shared: each timing is the best of `--repeat` runs.

Then the merge's memory as the number of partial runs grows: `--memory-runs 8,64`
(default) one-year runs of a 2-area study are merged, each count in a fresh process,
which prints its peak RSS; the ratio of the largest count's peak to the smallest's is
printed against the target <= 1.25 (a merge holds one run's table at a time: its memory
must not grow with the number of tasks of a job). `--memory-runs ""` skips it.

    uv run python benchmarks/bench_merge.py [--areas 20] [--links 10] [--repeat 3]
                                            [--memory-runs 8,64]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from winjobs.antares.calendar import PERIODS, Calendar
from winjobs.antares.example import write_example_study
from winjobs.antares.ini import IniDocument
from winjobs.antares.mcall import id_matrix, mc_all_matrix
from winjobs.antares.merge import merge_runs
from winjobs.antares.playlist import task_generaldata
from winjobs.antares.stats import synthesis_from_years
from winjobs.antares.values import OutputTable
from winjobs.antares.variables import LINK_VARIABLES, Variable, area_variables

RUNS = ((0, 1), (2, 3), (4, 5), (6, 7))
HOURS_PER_ROW = {"hourly": 1, "daily": 24, "weekly": 168, "monthly": 730, "annual": 8736}
SCALE = {"MWh": 3000.0, "Euro": 2e5, "Euro/MWh": 40.0, "Euro/MW": 30.0, "%": 60.0, "Hours": 0.3}


def _year_values(variables: tuple[Variable, ...], rows: int, period: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    live = np.random.default_rng(len(variables)).random(len(variables)) < 0.4
    scale = np.array([SCALE.get(v.unit, 100.0) for v in variables]) * live
    if period not in ("hourly",):
        scale = scale * np.array(
            [
                1 if v.unit in ("%", "Euro/MWh", "Euro/MW") else HOURS_PER_ROW[period]
                for v in variables
            ]
        )
    values: np.ndarray = rng.lognormal(0.0, 0.6, size=(rows, len(variables))) * scale
    return values


def _write_run(
    root: Path, generaldata: IniDocument, years: tuple[int, ...], areas: int, links: int
) -> Path:
    run = root / f"20261125-0900eco-part-{years[0]}"
    cal = Calendar.from_settings()
    about = run / "about-the-study"
    about.mkdir(parents=True)
    task_generaldata(generaldata, years).write(about / "parameters.ini")
    names = [f"area {i:02d}" for i in range(areas)]
    (about / "areas.txt").write_text("".join(f"{n}\n" for n in names))
    (about / "links.txt").write_text("")
    (run / "info.antares-output").write_text(
        "[general]\nversion = 880\nname = part\nmode = Economy\ndate = 2026.11.25 - 09:00\n"
    )
    (run / "execution_info.ini").write_text(
        "[durations_ms]\ntotal = 1\n\n[study]\nperformed years = 2\n"
    )
    objects: list[tuple[str, str, tuple[Variable, ...], str]] = [
        (f"areas/{n}", n.upper(), area_variables(), "area") for n in names
    ]
    objects += [
        (f"links/{names[i]} - {names[i + 1]}", names[i].upper(), LINK_VARIABLES, "link")
        for i in range(links)
    ]
    for number, (folder, display, variables, level) in enumerate(objects):
        for period in PERIODS:
            rows = len(cal.index(period)[0])
            per_year = np.stack(
                [_year_values(variables, rows, period, 1000 * number + y) for y in years]
            )
            summary = synthesis_from_years(per_year, [y + 1 for y in years], [1.0] * len(years))
            for kind, (columns, values) in (
                ("values", mc_all_matrix(variables, summary, period)),
                ("id", id_matrix(variables, summary)),
            ):
                table = OutputTable.build(
                    display,
                    kind=kind,
                    period=period,
                    calendar=cal,
                    columns=columns,
                    values=values,
                    data_level=level,
                )
                table.write(run / "economy" / "mc-all" / folder / f"{kind}-{period}.txt")
    return run


def _peak_rss_mb() -> float:
    if sys.platform == "win32":
        import psutil

        return float(psutil.Process().memory_info().peak_wset) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _merge_in_this_process(study: Path, runs: Path, out: Path) -> None:
    """The child of the memory phase: one merge, then its peak RSS and time on stdout."""
    started = time.perf_counter()
    merge_runs(study, sorted(runs.iterdir()), out, mc_ind="link")
    print(f"{_peak_rss_mb():.0f} {time.perf_counter() - started:.2f}")


def _memory_phase(work: Path, counts: list[int]) -> None:
    """Peak RSS of merging N one-year runs, for each N, each in a fresh process."""
    peaks: dict[int, float] = {}
    for count in counts:
        study = write_example_study(work / f"memory-study-{count}", nbyears=count)
        general = IniDocument.read(study / "settings/generaldata.ini")
        general.set("general", "year-by-year", "false")
        general.write(study / "settings/generaldata.ini")
        runs = work / f"memory-runs-{count}"
        for year in range(count):
            _write_run(runs, general, (year,), areas=2, links=1)
        child = subprocess.run(
            [sys.executable, __file__, "--child-merge", str(study), str(runs)],
            capture_output=True,
            text=True,
            check=True,
        )
        peak, seconds = (float(x) for x in child.stdout.split())
        peaks[count] = peak
        print(f"merge of {count:4d} one-year runs: peak RSS {peak:.0f} MB, {seconds:.1f} s")
    low, high = min(counts), max(counts)
    print(
        f"peak RSS ratio {high} runs / {low} runs: {peaks[high] / peaks[low]:.2f}; target <= 1.25"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--areas", type=int, default=20)
    parser.add_argument("--links", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-runs", default="8,64", help="comma-separated run counts")
    parser.add_argument("--child-merge", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_merge:
        study, runs = args.child_merge
        _merge_in_this_process(study, runs, runs.parent / f"{runs.name}-merged" / "run")
        return
    work = Path(tempfile.mkdtemp(prefix="bench-merge-"))
    try:
        study = write_example_study(work / "study", nbyears=8)
        general = IniDocument.read(study / "settings/generaldata.ini")
        general.set("general", "year-by-year", "false")
        general.write(study / "settings/generaldata.ini")
        started = time.perf_counter()
        runs = [_write_run(work / "runs", general, years, args.areas, args.links) for years in RUNS]
        files = sorted(p for run in runs for p in (run / "economy/mc-all").rglob("*.txt"))
        size = sum(p.stat().st_size for p in files) / 1e6
        print(
            f"generated 4 partial runs in {time.perf_counter() - started:.1f}s: "
            f"{len(files)} values/id files, {size:.0f} MB"
        )

        def read_all() -> None:
            for path in files:
                pd.read_csv(path, sep="\t", skiprows=7, header=None, engine="c")

        def merge(attempt: int) -> None:
            merge_runs(study, runs, work / f"merged-{attempt}", mc_ind="copy")

        read_all()  # warm the page cache and the imports for both sides
        merge(-1)
        reads, merges = [], []
        for attempt in range(args.repeat):
            t0 = time.perf_counter()
            read_all()
            reads.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            merge(attempt)
            merges.append(time.perf_counter() - t0)
        read, merged = min(reads), min(merges)
        read_median, merge_median = statistics.median(reads), statistics.median(merges)
        print(
            f"pandas read_csv (C engine): best {read:.2f}s  median {read_median:.2f}s  "
            f"{size / read:.0f} MB/s"
        )
        print(
            f"winjobs merge_runs:         best {merged:.2f}s  median {merge_median:.2f}s  "
            f"{size / merged:.0f} MB/s"
        )
        pairs = [m / r for m, r in zip(merges, reads, strict=True)]
        print(
            f"ratio merge / read: {merged / read:.2f} (best times), "
            f"{merge_median / read_median:.2f} (median times), per attempt "
            f"{', '.join(f'{x:.2f}' for x in pairs)}; target <= 2"
        )
        counts = [int(x) for x in args.memory_runs.split(",") if x]
        if counts:
            _memory_phase(work, counts)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

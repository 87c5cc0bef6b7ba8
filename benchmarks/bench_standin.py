"""How fast the stand-in solver writes a run, next to the cost of just copying its bytes.

Target (issue 3 brief): a 10-year run of a small study takes well under a few seconds,
so tests and the demo are not slowed down by the solver. Runs the stand-in in-process
(no interpreter start, `WINJOBS_STANDIN_SECONDS_PER_YEAR=0`) on the bundled example
study (3 areas, 3 links, full year, year-by-year) and prints the wall time, the output
size and MB/s, then the baseline: `shutil.copytree` of the very same output folder in the
same run (the floor any writer of these bytes pays), and the ratio.

    uv run python benchmarks/bench_standin.py [--years 10] [--parallel 1]
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
import time
from pathlib import Path

from winjobs.antares.example import write_example_study
from winjobs.antares.ini import IniDocument
from winjobs.standin.cli import run_solver


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-standin-") as tmp:
        study = write_example_study(Path(tmp) / "study", nbyears=args.years)
        path = study / "settings" / "generaldata.ini"
        settings = IniDocument.read(path)
        settings.set("general", "year-by-year", "true")
        settings.write(path)
        environ = {"WINJOBS_STANDIN_SECONDS_PER_YEAR": "0"}
        argv = ["winjobs-standin-solver", f"--force-parallel={args.parallel}", str(study)]
        best_run = best_copy = float("inf")
        size = 0
        for attempt in range(args.repeat):
            shutil.rmtree(study / "output", ignore_errors=True)
            started = time.perf_counter()
            status = run_solver(argv, environ, io.StringIO())
            best_run = min(best_run, time.perf_counter() - started)
            assert status == 0, f"the stand-in failed (status {status})"
            (run,) = (study / "output").iterdir()
            size = _size(run)
            copy = Path(tmp) / f"copy-{attempt}"
            started = time.perf_counter()
            shutil.copytree(run, copy)
            best_copy = min(best_copy, time.perf_counter() - started)
            shutil.rmtree(copy)

    mb = size / 1e6
    print(f"stand-in run: {args.years} years, --force-parallel={args.parallel}, "
          f"example study (3 areas, 3 links, 8736 hours, year-by-year)")  # fmt: skip
    print(f"  output       {mb:8.1f} MB")
    print(f"  stand-in     {best_run:8.2f} s   {mb / best_run:8.1f} MB/s   (best of {args.repeat})")
    print(
        f"  copytree     {best_copy:8.2f} s   {mb / best_copy:8.1f} MB/s   (baseline: same bytes)"
    )
    print(f"  ratio        {best_run / best_copy:8.1f} x the copy")
    print(f"  per year     {best_run / args.years:8.3f} s")


if __name__ == "__main__":
    main()

"""How long `winjobs demo` takes on this machine, against its one-minute budget.

    uv run python benchmarks/bench_demo.py [--repeat 1]

Runs `winjobs demo` as a newcomer would (its own timing: the stand-in solver at the demo's
seconds per MC year, two workers of two cores), and, in the same run as a baseline, the
stand-in solver alone on a copy of the same example study with four parallel years: what
one machine with the demo's total cores would take without any of winjobs around it.
Prints the demo's wall time (best of --repeat runs, to damp a shared machine's noise), its
ratio to the 60 s budget (target < 1.0), the submit-to-result time the demo reports, and
the overhead of going through the driver and workers compared with the local run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from winjobs.antares.example import example_study_path
from winjobs.cli.demo import DEMO_CORES_PER_WORKER, DEMO_SECONDS_PER_YEAR, STANDIN_SECONDS_ENV

BUDGET_S = 60.0
WORKERS = 2


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINJOBS_")}
    env[STANDIN_SECONDS_ENV] = str(DEMO_SECONDS_PER_YEAR)
    return env


def run_demo(workdir: Path, index: int) -> tuple[float, str]:
    env = clean_env()
    env["WINJOBS_CONFIG"] = str(workdir / "home" / "config.yaml")
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "winjobs", "demo", "--data-dir", str(workdir / f"demo-{index}")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the demo failed ({result.returncode}):\n{result.stderr}")
    match = re.search(r", (\d+\w*(?: \d+\w*)?) from submit to result", result.stdout)
    return elapsed, match.group(1) if match else "?"


def run_local(workdir: Path) -> float:
    study = Path(shutil.copytree(example_study_path(), workdir / "local-study"))
    solver = Path(sys.executable).parent / (
        "winjobs-standin-solver.exe" if sys.platform == "win32" else "winjobs-standin-solver"
    )
    started = time.perf_counter()
    subprocess.run(
        [str(solver), "-i", str(study), f"--force-parallel={WORKERS * DEMO_CORES_PER_WORKER}"],
        env=clean_env(),
        capture_output=True,
        check=True,
        timeout=600,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        workdir = Path(tmp)
        local = run_local(workdir)
        runs = [run_demo(workdir, i) for i in range(args.repeat)]
    best, reported = min(runs)
    print(f"stand-in alone, 8 years, {WORKERS * DEMO_CORES_PER_WORKER} parallel: {local:6.1f} s")
    print(f"winjobs demo (best of {args.repeat}):            {best:6.1f} s wall")
    print(f"  the demo's own report:                  {reported} from submit to result")
    print(f"  demo / local run:                       {best / local:6.1f} x")
    print(
        f"  demo / {BUDGET_S:.0f} s budget:                   {best / BUDGET_S:6.2f} (target < 1.0)"
    )


if __name__ == "__main__":
    main()

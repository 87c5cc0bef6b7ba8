"""A small solver stand-in for the agent's unit tests (the real stand-in is tested with the
driver in tests/integration). It speaks the solver's command line and log lines and
writes the bits of a run folder the strict success check looks at.

Knobs (environment): MINI_SECONDS_PER_YEAR, MINI_FAIL_YEAR (exit 1 + [fatal]), MINI_HANG,
MINI_CRASH (killed by SIGKILL before any output, as by the out-of-memory killer).
Each run appends "pid <pid>" to $MINI_PID_FILE when set.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path


def log(level: str, text: str) -> None:
    print(f"[2024-05-01 10:00:00][solver][{level}] {text}", flush=True)


def main() -> int:
    args = sys.argv[1:]
    if args == ["-v"]:
        log("infos", "Antares Solver (mini stand-in for unit tests)")
        print("8.8.10 (revision )")
        return 0
    study = Path(args[args.index("-i") + 1])
    name = args[args.index("-n") + 1]
    parallel = next(a for a in args if a.startswith("--force-parallel="))
    if pid_file := os.environ.get("MINI_PID_FILE"):
        with open(pid_file, "a") as out:
            out.write(f"{os.getpid()}\n")
    if os.environ.get("MINI_CRASH"):
        os.kill(os.getpid(), signal.SIGKILL)
    general = (study / "settings" / "generaldata.ini").read_text()
    nbyears = int(re.search(r"nbyears\s*=\s*(\d+)", general).group(1))
    years = [int(y) for y in re.findall(r"playlist_year \+ = (\d+)", general)]
    years = years or list(range(nbyears))
    run = study / "output" / f"20240501-1000eco-{name}"
    (run / "economy" / "mc-all").mkdir(parents=True)
    log("infos", f"options: {' '.join(args[2:])} ({parallel})")
    log("infos", f"temporary folder: {os.environ.get('TMPDIR')}, {os.environ.get('TEMP')}")
    log("infos", f"MC-Years : [1 .. {nbyears}], total: {len(years)}")
    seconds = float(os.environ.get("MINI_SECONDS_PER_YEAR", "0.01"))
    fail_year = os.environ.get("MINI_FAIL_YEAR")
    for year in years:
        if os.environ.get("MINI_HANG"):
            while True:
                time.sleep(1)
        time.sleep(seconds)
        if fail_year is not None and year == int(fail_year):
            log("infos", "Quitting the solver gracefully")
            log("fatal", f"Year {year + 1}: the problem is infeasible")
            return 1
        folder = run / "economy" / "mc-ind" / f"{year + 1:05d}"
        folder.mkdir(parents=True)
        (folder / "values.txt").write_text(f"year {year + 1}\n")
        log("infos", "Exporting the annual results")
    log("infos", "Exporting the survey results")
    (run / "economy" / "mc-all" / "values.txt").write_text(f"years {years}\n")
    log("infos", "Quitting the solver gracefully")
    (run / "execution_info.ini").write_text("[general]\n")
    (run / "simulation.log").write_text("log\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run the REAL Antares 8.8.10 solver in tests and benchmarks: the one way to do it.

`../shared/antares/solver-8.8/antares-solver` (built from the public v8.8.10 source, no
OR-Tools) is the reference for everything that reads, writes or merges outputs. Tests
take the `real_solver` session fixture (import it where needed, like `real_outputs`):
it skips, with the reason, when the solver is absent, and hands out a `RealSolver`.

`RealSolver.run(study, years=..., args=...)` runs the solver on a COPY of the study (the
shared studies are read-only), its playlist restricted to `years` with the worker's own
`write_task_playlist`, as an argv list (no shell), with a timeout, and returns a `RealRun`
(the run folder, or `output/<run>.zip` with `result-format = zip`, the exit status and
what the solver printed). Runs are cached for the session by (study folder, years,
arguments): many tests share one run, so a study variant must get its own folder (see
`tests.helpers.study_variants.VariantCache`). Treat a cached run as read-only: copy it
before changing anything (`merge_runs(mc_ind="copy")` leaves it alone).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SHARED_ANTARES
from tests.helpers.study_variants import copy_study
from winjobs.antares.output import find_run_folders
from winjobs.antares.playlist import write_task_playlist
from winjobs.worker.runner import solver_environment

#: The wrapper script of the real solver (sets the library path, runs bin/antares-8.8-solver).
REAL_SOLVER = SHARED_ANTARES / "solver-8.8" / "antares-solver"
REAL_SOLVER_REASON = (
    f"the real Antares 8.8.10 solver is not at {REAL_SOLVER} "
    "(it sits beside the project in CI; set WINJOBS_SHARED to point elsewhere)"
)
#: Seconds one run may take before it is killed (the shared studies take 0.4 to 5 s).
DEFAULT_TIMEOUT = 300.0


def real_solver_path() -> Path | None:
    """The real solver's executable, or None when the shared material lacks it."""
    return REAL_SOLVER if REAL_SOLVER.is_file() and os.access(REAL_SOLVER, os.X_OK) else None


@dataclass(frozen=True)
class RealRun:
    """One solver invocation. `run` is the run folder (or zipped run) it wrote in
    `study/output/`, None when it wrote none; `stdout` holds stdout and stderr."""

    study: Path
    years: tuple[int, ...] | None
    run: Path | None
    exit_code: int
    stdout: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.run is not None

    @property
    def fatal(self) -> list[str]:
        """The `[fatal]` lines it printed (ANSI colours removed)."""
        clean = re.sub(r"\x1b\[[0-9;]*m", "", self.stdout)
        return [line for line in clean.splitlines() if "[fatal]" in line]

    def folder(self) -> Path:
        """The run folder; fails the test with the solver's own words when there is none."""
        if not self.ok or self.run is None:
            raise AssertionError(
                f"the real solver failed on {self.study.name} (years {self.years}, exit status "
                f"{self.exit_code}):\n{self.stdout[-3000:]}"
            )
        return self.run


class RealSolver:
    """Runs the real solver on copies of studies under `work`, each run once per key."""

    def __init__(self, executable: Path, work: Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.executable = executable
        self.work = work
        self.timeout = timeout
        self._runs: dict[tuple[str, tuple[int, ...] | None, tuple[str, ...]], RealRun] = {}
        self._taken: set[str] = set()
        self._lock = threading.Lock()  #: runs may be started from several threads
        self.seconds = 0.0  #: solver time spent by this instance (cached runs count once)

    @property
    def count(self) -> int:
        """How many distinct runs were solved."""
        return len(self._runs)

    def run(
        self,
        study: Path,
        *,
        years: Iterable[int] | None = None,
        args: Sequence[str] = (),
    ) -> RealRun:
        """The run of `study` playing `years` (default: the study's own playlist) with the
        extra solver `args`; solved on the first call, cached afterwards."""
        wanted = tuple(sorted(set(years))) if years is not None else None
        key = (str(Path(study).resolve()), wanted, tuple(args))
        if key not in self._runs:
            self._runs[key] = self._solve(Path(study), wanted, list(args))
        return self._runs[key]

    def _solve(self, study: Path, years: tuple[int, ...] | None, args: list[str]) -> RealRun:
        label = "all" if years is None else "-".join(str(y) for y in years[:8])
        copy = copy_study(study, self._fresh(f"{study.name}-{label}"))
        if years is not None:
            write_task_playlist(copy, years)
        argv = [str(self.executable), "-i", str(copy), *args]
        temp = self._fresh(f"{study.name}-{label}-tmp")  # runs at once must not share one
        temp.mkdir(parents=True)
        started = time.monotonic()
        try:
            done = subprocess.run(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=self.timeout,
                check=False,
                env=solver_environment(temp),
            )
        except subprocess.TimeoutExpired as exc:
            printed = (exc.stdout or b"").decode("utf-8", "replace")
            raise AssertionError(
                f"the real solver ran more than {self.timeout:g} s on {study.name} "
                f"(years {years}): killed\n{printed[-3000:]}"
            ) from None
        seconds = time.monotonic() - started
        with self._lock:
            self.seconds += seconds
        runs = find_run_folders(copy)
        return RealRun(
            study=copy,
            years=years,
            run=runs[-1] if runs else None,
            exit_code=done.returncode,
            stdout=done.stdout.decode("utf-8", "replace"),
            seconds=seconds,
        )

    def _fresh(self, name: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]
        with self._lock:
            for index in range(10_000):
                candidate = self.work / (slug if index == 0 else f"{slug}-{index}")
                if candidate.name not in self._taken and not candidate.exists():
                    self._taken.add(candidate.name)
                    return candidate
        raise AssertionError(f"no free folder name for {name} in {self.work}")

    def clean(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


@pytest.fixture(scope="session")
def real_solver(
    shared_antares: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealSolver]:
    """The real solver for the whole session (runs cached); skipped, with the reason,
    when it is absent."""
    executable = real_solver_path()
    if executable is None:
        pytest.skip(REAL_SOLVER_REASON)
    yield RealSolver(executable, tmp_path_factory.mktemp("real-runs"))

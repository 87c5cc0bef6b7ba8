"""One solver run, from study loading to the last log line, with the real solver's shape.

The sequence (and the log lines the worker reads) follows real 8.8 runs: header, study
loading, `Output folder : ...`, `MC-Years : [1 .. N], total: K`, then batches of up to
`--force-parallel` played years (`parallel batch size : B (P perfomed)`, `Year(s) ...`,
one `Exporting the annual results` per finished year when year-by-year), the survey
(mc-all), `Quitting the solver gracefully`, and the end-of-run files. Faults and stop
signals cut this sequence where the real solver would stop.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from winjobs.errors import WinjobsError
from winjobs.standin import layout, narration, schedule, timeseries
from winjobs.standin.checks import refused_after_output
from winjobs.standin.data import simulate_year
from winjobs.standin.faults import CRASH_EXIT_STATUS, Faults
from winjobs.standin.log import SolverLog
from winjobs.standin.model import (
    RunSettings,
    load_run_settings,
    refused_by_solver,
)
from winjobs.standin.options import SolverOptions
from winjobs.standin.results import SpecKey, Synthesis, YearTable, write_year, year_tables
from winjobs.standin.signals import StopRequest, ignore_stop_signals, install_stop_handlers
from winjobs.standin.version import PosedVersion

EXIT_OK = 0
EXIT_FAILURE = 1
_POLL_SECONDS = 0.05
_FAILED_WEEK = 19


class YearFailure(Exception):
    """An injected infeasible year (the real solver gives up on the whole run)."""

    def __init__(self, year: int) -> None:
        super().__init__(f"year {year + 1} failed")
        self.year = year


@dataclass(frozen=True)
class YearOutcome:
    """A finished year: its exact tables (for mc-all) and its system cost."""

    year: int
    tables: dict[SpecKey, YearTable]
    system_cost: float


@dataclass
class RunState:
    """Everything a run accumulates. Year threads only write their own year's files;
    `export_lock` keeps each year's `Exporting results` lines together in the log."""

    settings: RunSettings
    run_dir: Path | None
    synthesis: Synthesis
    costs: dict[int, float] = field(default_factory=dict)
    finished: int = 0
    export_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def mode_dir(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / self.settings.mode_folder


@dataclass
class Run:
    """A configured invocation; `execute` returns the process exit status."""

    options: SolverOptions
    version: PosedVersion
    faults: Faults
    log: SolverLog
    command: list[str]
    errors: IO[str] = field(default_factory=lambda: sys.stderr)
    start: datetime = field(default_factory=datetime.now)
    stop: StopRequest = field(default_factory=StopRequest)
    zip_output: bool = False  # -z or `result-format = zip`, known once the study is read

    # -- top level ---------------------------------------------------------------------
    def execute(self) -> int:
        if self.options.pid_file is not None:
            self.options.pid_file.write_text(f"{os.getpid()}\n", encoding="utf-8")
        study = self.options.study
        if study is None or not study.is_dir():
            what = "no study folder given" if study is None else f"no study folder at {study}"
            self.log.fatal(f"{what} (use -i STUDY or give the study as the last argument)")
            self.log.error("Aborting now. See logs for more details")
            return EXIT_FAILURE
        self.log.open_file(study / "logs" / f"solver-{self.start:%Y%m%d-%H%M%S}.log")
        try:
            return self._execute()
        finally:
            self.log.close()

    def _execute(self) -> int:
        restore = install_stop_handlers(self.stop)
        try:
            return self._execute_with_handlers()
        finally:
            restore()

    def _execute_with_handlers(self) -> int:
        narration.log_header(self.log, self.version, self.command)
        if self.faults.crash:
            self.log.info("Loading the list of areas...")
            self.errors.write(
                "Segmentation fault (simulated by winjobs-standin-solver: WINJOBS_STANDIN_CRASH)\n"
            )
            self.errors.flush()
            return CRASH_EXIT_STATUS
        try:
            settings = load_run_settings(self.options)
        except WinjobsError as exc:
            narration.log_abort(self.log, str(exc))
            return EXIT_FAILURE
        refusal = refused_by_solver(settings, self.version)
        if refusal is not None:
            narration.log_abort(self.log, refusal)
            return EXIT_FAILURE
        run_dir = self._prepare_output(settings)
        refused = refused_after_output(settings, self.options.given, self._threads())
        if refused is not None:
            for line in refused.errors:
                self.log.error(line)
            self.log.info("[UI] Quitting the solver gracefully")
            if run_dir is not None:
                self.log.copy_to(run_dir / "simulation.log")
            narration.log_abort(self.log, refused.fatal, quitting=False)
            self._zip_if_asked(run_dir)
            return EXIT_FAILURE
        if run_dir is not None:
            timeseries.write_ts_generator(run_dir, settings)
        state = RunState(settings, run_dir, Synthesis(settings))
        narration.log_loaded(self.log, settings)
        status = self._simulate(state)
        if status is not None:
            return status
        return self._finish(state)

    def _prepare_output(self, settings: RunSettings) -> Path | None:
        narration.log_study(self.log, settings)
        if self.options.no_output:
            self.log.info("  Output folder : (none: --no-output)")
            return None
        base = layout.run_folder_base(self.start, settings.mode, self.options.name)
        run_dir = layout.reserve_run_folder(
            settings.path / "output", base, zipped=self._zipped(settings)
        )
        self.log.info(f"  Output folder : {run_dir}")
        layout.write_info(run_dir, settings, self.version, self.options.name or "", self.start)
        layout.write_about_the_study(
            run_dir, settings, self.version, self.start, self.options.comment_file
        )
        return run_dir

    # -- the years ---------------------------------------------------------------------------
    def _threads(self) -> int:
        if self.options.force_parallel is not None:
            return self.options.force_parallel
        if self.options.parallel:
            return max(1, os.cpu_count() or 1)
        return 1

    def _batches(self, settings: RunSettings) -> list[list[int]]:
        """The real solver's sets of parallel years: consecutive year indices, played or
        not (`parallel batch size : 2 (1 perfomed)`), cut at regenerations (`schedule`)."""
        refresh = schedule.refresh_plan(settings.generaldata, settings.system)
        return schedule.batches(self._threads(), refresh, settings.nbyears, set(settings.years))

    def _simulate(self, state: RunState) -> int | None:
        """Play every batch; a status when the run stops early, None when all went well."""
        settings = state.settings
        played = set(settings.years)
        if self._partial_reached(state):
            return self._stopped(state)
        # Not a `with` block: on a stop request the run must end now, like the real
        # solver's exit() from its signal handler, not after the years in flight.
        pool = ThreadPoolExecutor(max_workers=self._threads())
        try:
            for batch in self._batches(settings):
                years = [y for y in batch if y in played]
                self.log.info(f"parallel batch size : {len(batch)} ({len(years)} perfomed)")
                self.log.info("Year(s) " + "".join(f"{y + 1} " for y in years))
                for year in batch:
                    if year not in played:
                        self.log.info(f"  playlist: ignoring the year {year + 1}")
                if self.faults.hang:
                    self._hang()
                futures = {pool.submit(self._play_year, state, year): year for year in years}
                failed = self._wait_batch(state, futures)
                if self.stop.is_set():
                    return self._stopped(state)
                if failed is not None:
                    return self._failed(state, failed)
        finally:
            pool.shutdown(wait=not self.stop.is_set(), cancel_futures=True)
        return None

    def _wait_batch(self, state: RunState, futures: dict[Future[YearOutcome], int]) -> int | None:
        """Wait for a batch while watching for stop requests; the failed year, if any."""
        failed: int | None = None
        pending = set(futures)
        while pending and not self.stop.is_set():
            done, pending = wait(pending, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    outcome = future.result()
                except YearFailure as exc:
                    failed = exc.year if failed is None else min(failed, exc.year)
                    continue
                state.synthesis.add(outcome.year, outcome.tables)
                state.costs[outcome.year] = outcome.system_cost
                state.finished += 1
                if self._partial_reached(state):
                    break
        return failed

    def _partial_reached(self, state: RunState) -> bool:
        limit = self.faults.partial_after
        if limit is not None and state.finished >= limit and not self.stop.is_set():
            self.stop.request(f"WINJOBS_STANDIN_PARTIAL_EXIT0={limit}")
        return self.stop.is_set()

    def _play_year(self, state: RunState, year: int) -> YearOutcome:
        """One MC year (in a worker thread): wait, compute, export."""
        time.sleep(self.faults.seconds_for(year))
        settings = state.settings
        if year == self.faults.fail_year:
            self.log.info(" Solver: Standard resolution failed")
            self.log.info(" Solver: Retry in safe mode")
            self.log.info(" Solver: Safe resolution failed")
            self.log.error(
                f"Assertion error for week {_FAILED_WEEK} simulation is stopped : "
                "infeasible problem (injected by WINJOBS_STANDIN_FAIL_YEAR)"
            )
            raise YearFailure(year)
        results = simulate_year(settings.system, year)
        specs = state.synthesis.specs
        tables = year_tables(settings, specs, results)
        if state.run_dir is not None:
            optimisations = layout.mps_optimisations(settings, "mps-export" in self.options.given)
            exported = layout.write_mps_exports(state.run_dir, settings, year, optimisations)
            with state.export_lock:  # one year's lines stay together
                for name in exported:
                    kind = "MPS" if name.endswith(".mps") else "Criterion"
                    self.log.info(f"Solver {kind} File: `{name}'")
            if settings.year_by_year and state.mode_dir is not None:
                with state.export_lock:
                    self.log.info("Exporting the annual results")
                    for name in narration.exported_names(settings, synthesis=False):
                        self.log.info(f"Exporting results : {name}")
                write_year(state.mode_dir / "mc-ind" / f"{year + 1:05d}", settings, specs, tables)
            layout.write_week_by_week(state.run_dir, settings, year)
        return YearOutcome(year, tables, results.system_cost)

    def _hang(self) -> None:
        ignore_stop_signals()
        while True:  # pragma: no cover - ended by a kill
            time.sleep(3600)

    # -- endings ---------------------------------------------------------------------------
    def _stopped(self, state: RunState) -> int:
        """SIGTERM/SIGINT or the partial-exit fault: status 0, output as it stands."""
        reason = self.stop.reason
        if reason.startswith("SIG"):
            self.log.notice(f"[signal] received signal {reason}. Exiting...")
        else:
            self.log.notice(f"[signal] stand-in fault {reason}: exiting as on SIGTERM...")
        self._zip_if_asked(state.run_dir)
        return EXIT_OK

    def _failed(self, state: RunState, year: int) -> int:
        self.log.info()
        self.log.warning(f"Year {year + 1} failed at week {_FAILED_WEEK}.")
        self.log.info("[UI] Quitting the solver gracefully")
        if state.run_dir is not None:
            self.log.copy_to(state.run_dir / "simulation.log")
        narration.log_abort(
            self.log,
            f"Year {year + 1} has failed in the previous set of parallel year.",
            quitting=False,
        )
        self._zip_if_asked(state.run_dir)
        return EXIT_FAILURE

    def _finish(self, state: RunState) -> int:
        settings = state.settings
        log = self.log
        if settings.system.links:  # the solver's post-processing of the flows
            quadratic = settings.system.quadratic and "FLOW QUAD." in settings.selection
            log.info("Post-processing... (quadratic optimisation)" if quadratic
                     else "  The quadratic optimisation has been skipped")  # fmt: skip
        if state.run_dir is not None:
            timeseries.write_ts_numbers(state.run_dir, settings)
            costs = [state.costs[y] for y in sorted(state.costs)]
            layout.write_annual_system_cost(state.run_dir, costs)
            first = [cost * 0.999 for cost in costs]
            layout.write_check_integrity(state.run_dir, first, first)
            layout.write_durations(state.run_dir)
        if settings.synthesis:
            log.info()
            log.check("Exporting the survey results...")
        else:
            log.info("The simulation synthesis is disabled.")
        started = time.monotonic()
        if state.mode_dir is not None and settings.synthesis:
            for name in narration.exported_names(settings, synthesis=True):
                log.info(f"Exporting results : {name}")
            state.synthesis.write(state.mode_dir / "mc-all", digest=False)
            layout.write_grid(state.mode_dir, settings)
            log.info("Exporting digest...")
            if len(settings.system.districts) > len(settings.system.areas):
                return self._digest_crash()
            state.synthesis.write_digest(state.mode_dir / "mc-all")
        log.info("[UI] Quitting the solver gracefully")
        if state.run_dir is not None:
            log.copy_to(state.run_dir / "simulation.log")
            elapsed = int((datetime.now() - self.start).total_seconds() * 1000)
            durations = {
                "mc_years": max(0, elapsed - int((time.monotonic() - started) * 1000)),
                "synthesis_export": int((time.monotonic() - started) * 1000),
                "total": elapsed,
            }
            layout.write_execution_info(
                state.run_dir, settings, self.version, durations, self._threads()
            )
        self._zip_if_asked(state.run_dir)
        return EXIT_OK

    def _digest_crash(self) -> int:
        """The real 8.8 solver sizes the digest's district rows by the number of areas
        (`surveyresults.cpp`): with more districts than areas it dies writing it,
        leaving no digest, simulation.log nor execution_info.ini (seen: exit 139)."""
        self.errors.write("Segmentation fault (the 8.8 solver's digest with more districts "
                          "than areas, imitated by winjobs-standin-solver)\n")  # fmt: skip
        self.errors.flush()
        return CRASH_EXIT_STATUS

    def _zipped(self, settings: RunSettings) -> bool:
        self.zip_output = self.options.zip_output or settings.zipped_result
        return self.zip_output

    def _zip_if_asked(self, run_dir: Path | None) -> None:
        if self.zip_output and run_dir is not None:
            layout.zip_run_folder(run_dir)

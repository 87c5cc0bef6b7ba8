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
import platform
import socket
import sys
import threading
import time
import zipfile
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from winjobs.errors import WinjobsError
from winjobs.standin import layout
from winjobs.standin.calendar import log_lines
from winjobs.standin.data import FloatArray, simulate_year
from winjobs.standin.faults import CRASH_EXIT_STATUS, Faults
from winjobs.standin.log import SolverLog
from winjobs.standin.model import RunSettings, load_run_settings
from winjobs.standin.options import SolverOptions
from winjobs.standin.results import Synthesis, emitted_variables, write_year, year_tables
from winjobs.standin.signals import StopRequest, ignore_stop_signals, install_stop_handlers
from winjobs.standin.texts import STANDIN_NOTICE
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
    tables: dict[tuple[str, str, str], FloatArray]
    system_cost: float


@dataclass
class RunState:
    """Everything a run accumulates; shared by the year threads under `export_lock`."""

    settings: RunSettings
    run_dir: Path | None
    synthesis: Synthesis
    costs: dict[int, float] = field(default_factory=dict)
    finished: int = 0
    export_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def mode_dir(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / self.settings.mode


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
        self._log_header()
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
            self.log.info("[UI] Quitting the solver gracefully")
            self.log.fatal(str(exc))
            self.log.error("Aborting now. See logs for more details")
            return EXIT_FAILURE
        refusal = self._refusal(settings)
        if refusal is not None:
            self.log.info("[UI] Quitting the solver gracefully")
            self.log.fatal(refusal)
            self.log.error("Aborting now. See logs for more details")
            return EXIT_FAILURE
        run_dir = self._prepare_output(settings)
        state = RunState(settings, run_dir, Synthesis(settings))
        self._log_loaded(settings)
        status = self._simulate(state)
        if status is not None:
            return status
        return self._finish(state)

    def _refusal(self, settings: RunSettings) -> str | None:
        """What the real solver of the posed version refuses to run (exit 1)."""
        study_version = settings.study.version_info
        posed = (self.version.major, self.version.minor)
        if study_version > posed:
            return (
                f"Invalid version for the study: found `{settings.study.version}`, "
                f"expected <= `{posed[0]}.{posed[1]}` (the solver is too old for this study)"
            )
        mode = settings.generaldata.get("other preferences", "unit-commitment-mode", "")
        ortools = {"use-ortools", "solver", "ortools-solver"} & set(self.options.given)
        if (mode or "").strip().lower() == "milp" and not ortools:
            return "Unit Commitment mode 'milp' must be used with an OR-Tools solver "
        return None

    # -- logging of the preamble -----------------------------------------------------------
    def _log_header(self) -> None:
        log = self.log
        log.check(f"Antares Solver v{self.version.text} ()")
        bits = "64-bit" if platform.architecture()[0].startswith("64") else "32-bit"
        log.info(f"  :: built for {bits} architectures, {platform.system()}, "
                 f"{os.cpu_count() or 1} cpu(s)")  # fmt: skip
        log.info(f"  :: hostname = {socket.gethostname()}")
        log.info()
        log.info(f"  :: command: {' '.join(self.command)}")
        log.info(f"  :: log filename: {self.log.path}")
        log.info()
        log.info(f"  :: {STANDIN_NOTICE}")
        log.info()

    def _log_study(self, settings: RunSettings) -> None:
        log = self.log
        log.notice(f"Preparing {settings.caption}...")
        log.info(f"  detected version: {settings.study_file.get('antares', 'version', '')}")
        log.info(f"  from `{settings.path}`")
        log.info()
        log.info(f"  simulation mode: {layout.mode_title(settings.mode)}")
        if settings.user_playlist:
            count = len(settings.years)
            log.info(f"  {count} year{'s' if count != 1 else ''} in the user's playlist")
            weighted = {y: w for y, w in settings.weights.items() if w != 1.0}
            if weighted:
                log.info(f"  {len(weighted)} years with weight !=1 in the user's playlist")
                top = max(weighted.values())
                years = " ".join(str(y) for y, w in weighted.items() if w == top)
                log.info(f"  maximum weight {top:.6f} for year(s) {years}")
        if settings.year_by_year:
            log.info("  :: enabling the 'year-by-year' mode")
        if settings.user_playlist:
            log.info("  :: enabling the user playlist")
        system = settings.system
        log.info("Loading the list of areas...")
        log.info(f"  Loading the area list from `{settings.path / 'input' / 'areas' / 'list.txt'}`")
        count = len(system.areas)
        log.info(f"  {count} area{'s' if count != 1 else ''} found")
        for index, area in enumerate(system.areas, start=1):
            log.info(f"Loading the area {index}/{count}: {area.name}")
        log.info("Loading sets of areas...")
        for district in system.districts:
            size = len(district.members)
            log.info(f"   found `{district.id}` ({size} item{'s' if size != 1 else ''})")

    def _prepare_output(self, settings: RunSettings) -> Path | None:
        self._log_study(settings)
        if self.options.no_output:
            self.log.info("  Output folder : (none: --no-output)")
            return None
        base = layout.run_folder_base(self.start, settings.mode, self.options.name)
        run_dir = layout.reserve_run_folder(
            settings.path / "output", base, zipped=self.options.zip_output
        )
        self.log.info(f"  Output folder : {run_dir}")
        layout.write_info(run_dir, settings, self.version, self.options.name or "", self.start)
        layout.write_about_the_study(
            run_dir, settings, self.version, self.start, self.options.comment_file
        )
        layout.write_ts_numbers(run_dir, settings)
        return run_dir

    def _log_loaded(self, settings: RunSettings) -> None:
        log = self.log
        system = settings.system
        log.info("The study is loaded.")
        log.info()
        log.info("Generating calendar informations")
        for line in log_lines(system.calendar, settings.nbyears):
            log.info(line)
        log.info()
        log.info("Summary")
        log.info(f"     areas: {len(system.areas)}")
        log.info(f"     links: {len(system.links)}")
        log.info(f"     thermal clusters: {sum(len(a.clusters) for a in system.areas)}")
        log.info()
        log.check(f"Running the simulation ({settings.mode})")
        log.info(" Variables: (synthetic, written by the stand-in)")
        for kind, captions in emitted_variables():
            log.info(f"  + {kind}")
            for caption in captions:
                log.info(f"       {caption}")
        log.info()
        log.info(f"MC-Years : [1 .. {settings.nbyears}], total: {len(settings.years)}")
        log.info(" Starting the simulation")

    # -- the years ---------------------------------------------------------------------------
    def _threads(self) -> int:
        if self.options.force_parallel is not None:
            return self.options.force_parallel
        if self.options.parallel:
            return max(1, os.cpu_count() or 1)
        return 1

    def _batches(self, settings: RunSettings) -> list[list[int]]:
        """Consecutive year indices holding up to `threads` played years each (skipped
        years ride along, as in the real log's `parallel batch size : 2 (1 perfomed)`)."""
        played = set(settings.years)
        threads = self._threads()
        batches: list[list[int]] = [[]]
        count = 0
        for year in range(settings.nbyears):
            if count == threads:
                batches.append([])
                count = 0
            batches[-1].append(year)
            count += year in played
        return [batch for batch in batches if batch]

    def _simulate(self, state: RunState) -> int | None:
        """Play every batch; a status when the run stops early, None when all went well."""
        settings = state.settings
        played = set(settings.years)
        if self._partial_reached(state):
            return self._stopped(state)
        with ThreadPoolExecutor(max_workers=self._threads()) as pool:
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
                    pool.shutdown(wait=False, cancel_futures=True)
                    return self._stopped(state)
                if failed is not None:
                    return self._failed(state, failed)
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
        tables = year_tables(settings.system, results)
        with state.export_lock:
            if state.run_dir is not None:
                if settings.year_by_year and state.mode_dir is not None:
                    self.log.info("Exporting the annual results")
                    for name in _exported_names(settings):
                        self.log.info(f"Exporting results : {name}")
                    write_year(state.mode_dir / "mc-ind" / f"{year + 1:05d}", settings, tables)
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
        self._zip_if_asked(state)
        return EXIT_OK

    def _failed(self, state: RunState, year: int) -> int:
        self.log.info()
        self.log.warning(f"Year {year + 1} failed at week {_FAILED_WEEK}.")
        self.log.info("[UI] Quitting the solver gracefully")
        if state.run_dir is not None:
            self.log.copy_to(state.run_dir / "simulation.log")
        self.log.fatal(f"Year {year + 1} has failed in the previous set of parallel year.")
        self.log.error("Aborting now. See logs for more details")
        self._zip_if_asked(state)
        return EXIT_FAILURE

    def _finish(self, state: RunState) -> int:
        settings = state.settings
        log = self.log
        log.info("  The quadratic optimisation has been skipped")
        log.info()
        log.check("Exporting the survey results...")
        started = time.monotonic()
        if state.run_dir is not None and state.mode_dir is not None:
            if settings.synthesis:
                for name in _exported_names(settings):
                    log.info(f"Exporting results : {name}")
                state.synthesis.write(state.mode_dir / "mc-all")
                log.info("Exporting digest...")
                layout.write_grid(state.mode_dir, settings)
            costs = [state.costs[y] for y in sorted(state.costs)]
            layout.write_annual_system_cost(state.run_dir, costs)
            first = [cost * 0.999 for cost in costs]
            layout.write_check_integrity(state.run_dir, first, first)
            layout.write_durations(state.run_dir)
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
        self._zip_if_asked(state)
        return EXIT_OK

    def _zip_if_asked(self, state: RunState) -> None:
        """-z: the run folder becomes `<run>.zip` with entries relative to the run root."""
        if not self.options.zip_output or state.run_dir is None:
            return
        run_dir = state.run_dir
        with zipfile.ZipFile(run_dir.with_name(run_dir.name + ".zip"), "w") as archive:
            for path in sorted(run_dir.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(run_dir).as_posix())
        for path in sorted(run_dir.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        run_dir.rmdir()


def _exported_names(settings: RunSettings) -> list[str]:
    """`Exporting results : X` lines: areas, links (`A - B`), then binding constraints."""
    system = settings.system
    names = [area.name for area in system.areas]
    names += [f"{link.origin.name} - {link.extremity.name}" for link in system.links]
    names += [district.caption for district in system.districts]
    return [*names, "binding constraints"]

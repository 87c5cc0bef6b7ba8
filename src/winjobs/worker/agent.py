"""The worker's loop: register, claim, stage, run, report, and again, until told to stop.

Each claimed attempt ends in exactly one report (see `reports`), sent in the background
(see `finishing`) while the next task already runs. The driver being down never ends the
loop: calls wait and retry; a finished result is kept until the driver takes it.
Heartbeats run beside the attempt from the claim until its report is accepted.
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from winjobs.antares.output import find_run_folders, parse_progress
from winjobs.antares.study import Study
from winjobs.client import ClientError, DriverClient
from winjobs.errors import WinjobsError
from winjobs.wire import (
    ClaimRequest,
    FailureKind,
    TaskAssignment,
    Transfer,
    WorkerRegistered,
    WorkerRegistration,
)
from winjobs.worker.claiming import Claimer, ClaimMode
from winjobs.worker.deadline import DrainClock
from winjobs.worker.finishing import Finisher, Ran, conclude
from winjobs.worker.heartbeat import HeartbeatThread
from winjobs.worker.hygiene import TaskFolders, evict_archives, free_disk_bytes, low_disk_reason
from winjobs.worker.owner import OwnerWatch, watch_for
from winjobs.worker.reports import Dropped, Failure, Report, Reporter, SharedDone
from winjobs.worker.retry import Backoff, RetryAborted, retry_transient
from winjobs.worker.runner import SolverProcess, StopReason, StopRequest, read_tail
from winjobs.worker.settings import WorkerSettings
from winjobs.worker.shared import SharedOutput, SharedPathError, shared_archive
from winjobs.worker.shutdown import Interrupted, Shutdown
from winjobs.worker.solvers import Solver, config_fingerprint
from winjobs.worker.staging import StagedTask, StudyCache, unpack_task

log = logging.getLogger(__name__)

#: How long a worker that refused a task for lack of disk waits before claiming again.
LOW_DISK_PAUSE_S = 30.0
#: Longest time between two paused claims (the driver marks a worker offline after 90 s).
PAUSED_REPORT_MAX_S = 30.0


class LogProgress:
    """Years finished so far, read from the solver's log (for the heartbeats)."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path

    def years_done(self) -> int:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return 0
        return parse_progress(text).years_done


class Agent:
    """One worker process's loop around an injected `DriverClient`."""

    def __init__(
        self,
        settings: WorkerSettings,
        client: DriverClient,
        solvers: dict[str, Solver],
        shutdown: Shutdown | None = None,
        backoff: Backoff | None = None,
        owner: OwnerWatch | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        #: a batch system's deadline: claiming stops `drain_margin_s` before it
        self.drain = DrainClock(settings.deadline, settings.drain_margin_s, clock)
        self.client = client
        self.solvers = solvers
        self.shutdown = shutdown or Shutdown()
        self.backoff = backoff or Backoff(settings.retry_initial_s, settings.retry_max_s)
        self.cores = settings.solver_cores
        self.owner = owner or watch_for(settings)
        self.claim_cores = self.cores  #: what the owner's policy lends now (cores=N of a window)
        self.cache = StudyCache(
            client, settings.cache_dir, int(settings.cache_max_bytes), self.backoff
        )
        self.folders = TaskFolders(settings.tasks_dir, settings.keep_task_folders)
        self.finisher = Finisher()
        self.reporter = Reporter(client, self.backoff, self.shutdown, settings.report_retry_limit_s)
        self.claimer = Claimer(
            client,
            self.shutdown,
            self.backoff,
            self.reporter,
            self._claim_request,
            paused=lambda: not self.owner.may_take_work(),
        )
        self.shared_output = (
            SharedOutput(settings.shared_output_dir, settings.shared_output_root)
            if settings.transfer is Transfer.SHARED
            and settings.shared_output_dir is not None
            and settings.shared_output_root
            else None
        )
        self.registered: WorkerRegistered | None = None
        self.handled = 0  #: attempts claimed and settled by this run
        self.low_disk_pause_s = LOW_DISK_PAUSE_S
        self._pause_s = 0.0

    # ------------------------------------------------------------------ the loop

    def run(self, max_tasks: int | None = None, exit_when_idle: bool = False) -> int:
        """Work until stopped, `max_tasks` attempts are settled, or (with `exit_when_idle`)
        a claim finds no work. Returns the number of attempts settled."""
        for stale in self.folders.clean_stale():
            log.info("deleted %s, left by an earlier run of this worker", stale)
        self.owner.start()
        try:
            self._register()
            self.drain.announce()
            while not self.shutdown.drain.is_set() and not self.drain.reached():
                if max_tasks is not None and self.handled >= max_tasks:
                    break
                cores = self.owner.wait_for_work(
                    self.shutdown.drain,
                    lambda: self.claimer.announce(ClaimMode.PAUSED),
                    min(PAUSED_REPORT_MAX_S, max(1.0, self.settings.claim_wait_s)),
                    give_up=exit_when_idle,
                    done=self.drain.reached,
                )
                if self.drain.reached():  # the owner kept it waiting past its drain time
                    break
                if cores is None:
                    if exit_when_idle and not self.shutdown.drain.is_set():
                        log.info("the owner's policy gives no work now: exiting (--exit-when-idle)")
                        break
                    continue
                self.claim_cores = cores
                assignment = self._claim()
                if assignment is None:
                    if exit_when_idle and not self.shutdown.drain.is_set():
                        if not self.drain.reached():
                            log.info("no work: exiting (--exit-when-idle)")
                        break
                    continue
                self._handle(assignment)
                self.handled += 1
                if self._pause_s:
                    self.shutdown.drain.wait(self._pause_s)
                    self._pause_s = 0.0
        except (Interrupted, RetryAborted):
            pass
        finally:
            self.finisher.wait()  # the last report goes out before the worker stops
            self.owner.stop()
        if self.registered is not None:
            self.claimer.announce_draining()  # even on --max-tasks: don't count its cores any more
        log.info("worker stopped after %d task(s)", self.handled)
        return self.handled

    def _registration(self) -> WorkerRegistration:
        return WorkerRegistration(
            name=self.settings.name,
            cores=self.cores,
            os=platform.platform(terse=True),
            versions=sorted(self.solvers),
            free_disk_bytes=free_disk_bytes(self.settings.data_dir),
            transfer=Transfer.SHARED if self.shared_output is not None else Transfer.HTTP,
            shared_output_root=self.shared_output.driver_root if self.shared_output else None,
            config_sha256=config_fingerprint(self.cores, self.solvers),
            policy=self.owner.report(),
        )

    def _register(self) -> None:
        with self.shutdown.interruptible(on_drain=True):
            self.registered = retry_transient(
                lambda: self.client.register_worker(self._registration()),
                what="registration with the driver",
                backoff=self.backoff,
                abort=self.shutdown.drain,
            )
        log.info(
            "registered as %r (id %s) at %s: %d cores, solvers %s",
            self.settings.name,
            self.registered.worker_id,
            self.client.base_url,
            self.cores,
            ", ".join(f"{s.version} ({s.reported})" for s in self.solvers.values()),
        )
        if self.registered.held_reason:
            log.warning(
                "the driver holds this worker: %s. It gets no task until an admin releases "
                "it (winjobs worker-admin release %s) or it restarts with a changed "
                "configuration (solvers, cores).",
                self.registered.held_reason,
                self.settings.name,
            )

    def _claim_request(self, mode: ClaimMode) -> ClaimRequest:
        return ClaimRequest(
            free_cores=self.claim_cores,
            wait_s=(
                self.drain.claim_wait_s(self.settings.claim_wait_s) if mode is ClaimMode.WORK else 0
            ),
            free_disk_bytes=free_disk_bytes(self.settings.data_dir),
            draining=mode is ClaimMode.DRAINING,
            paused=mode is ClaimMode.PAUSED,
            policy=self.owner.report(),
        )

    def _claim(self) -> TaskAssignment | None:
        """Long-poll for a task; None when none came within the wait, or on a stop."""
        for _ in range(2):
            try:
                return self.claimer.claim()
            except ClientError as exc:
                if exc.status_code != 404:
                    raise
                # The driver lost its records (a new database): it knows us again by name.
                log.warning("the driver does not know this worker (%s): registering again", exc)
                self._register()
        return None

    # ------------------------------------------------------------------ one task

    def _handle(self, assignment: TaskAssignment) -> None:
        task = assignment.task_id
        log.info(
            "task %d (job %d, attempt %d): years %s",
            task,
            assignment.job_id,
            assignment.attempt,
            _years(assignment.years),
        )
        stop, wake = StopRequest(), threading.Event()
        if not self.owner.hold(task, stop, wake.set):  # the owner came back meanwhile
            reason = f"the machine's owner comes first: {self.owner.verdict.reason}"
            self.reporter.send(assignment, Failure(reason, release=True), stop)
            return
        name = f"job{assignment.job_id}-task{task}-a{assignment.attempt}"
        try:
            staged = StagedTask.under(self.folders.new(name))
        except OSError as exc:  # a full or read-only disk: not the task's fault
            self.owner.release()
            failure = Failure(f"cannot create the task folder: {exc}", release=True)
            self.reporter.send(assignment, failure, stop)
            self._pause_s = self.low_disk_pause_s
            return
        heartbeat = HeartbeatThread(
            self.client,
            task,
            assignment.attempt,
            assignment.heartbeat_interval_s,
            LogProgress(staged.log_path).years_done,
            stop,
            policy=self.owner.report,
            suspended=lambda: self.owner.suspended(task),
            wake=wake,
        )
        heartbeat.start()
        self.shutdown.track(stop)
        try:
            result = self._work(assignment, staged, stop)
        except Interrupted:
            result = Failure(StopReason.SHUTDOWN.value, release=True)
        except BaseException:
            heartbeat.stop()
            self.shutdown.untrack(stop)
            raise
        finally:
            self.owner.release()  # the solver ended: the owner's policy holds nothing now
        self.finisher.submit(
            f"finish-task-{task}", lambda: self._finish(assignment, staged, stop, heartbeat, result)
        )

    def _finish(
        self,
        assignment: TaskAssignment,
        staged: StagedTask,
        stop: StopRequest,
        heartbeat: HeartbeatThread,
        result: Report | Ran,
    ) -> None:
        """In the background: check and pack a run, send the report, clean up.

        A run the driver's merged output will link to (shared mode, collect: link) is
        kept, the rest of its task folder goes; every other task folder is retired."""
        accepted = False
        try:
            if isinstance(result, Ran):
                result = conclude(
                    assignment, staged, result, self.settings.log_tail_lines, self.shared_output
                )
            accepted = self.reporter.send(assignment, result, stop)
        finally:
            heartbeat.stop()
            self.shutdown.untrack(stop)
            if accepted and assignment.keep_shared_output and isinstance(result, SharedDone):
                self._keep_linked(assignment, staged, result)
            else:
                self.folders.retire(staged.folder)

    def _keep_linked(
        self, assignment: TaskAssignment, staged: StagedTask, result: SharedDone
    ) -> None:
        note = {
            "job_id": assignment.job_id,
            "task_id": assignment.task_id,
            "attempt": assignment.attempt,
            "years": assignment.years,
            "run_path": result.run_path,
        }
        try:
            self.folders.keep_linked(staged.folder, result.run, json.dumps(note))
        except OSError as exc:
            log.warning("task %d: could not trim its kept folder: %s", assignment.task_id, exc)
        log.info(
            "task %d: run kept at %s (the driver links to it; `winjobs clean data` removes it)",
            assignment.task_id,
            result.run,
        )

    def _work(
        self, assignment: TaskAssignment, staged: StagedTask, stop: StopRequest
    ) -> Report | Ran:
        if (refusal := self._check_disk(assignment)) is not None:
            return refusal
        try:
            archive = self._archive(assignment, stop)
            study = unpack_task(archive, staged, assignment.years, sevenzip=self.settings.sevenzip)
        except RetryAborted:
            return self._stopped(stop.reason or StopReason.SHUTDOWN, staged, detail=stop.detail)
        except SharedPathError as exc:  # this machine's set-up, not the task: hand it back
            log.error("task %d: %s", assignment.task_id, exc)
            self._pause_s = self.low_disk_pause_s
            return Failure(f"worker {self.settings.name}: {exc}", release=True)
        except WinjobsError as exc:
            return Failure(f"could not stage the study: {exc}")
        except OSError as exc:  # a full or failing disk: this machine's, not the study's
            return Failure(f"could not stage the study: {exc}", kind=FailureKind.MACHINE)
        if stop.is_set():
            return self._stopped(stop.reason or StopReason.SHUTDOWN, staged, detail=stop.detail)
        return self._run_solver(assignment, staged, study, stop)

    def _archive(self, assignment: TaskAssignment, stop: StopRequest) -> Path:
        """The study archive: read on the driver's shared folder, or the cached download."""
        if assignment.transfer is Transfer.SHARED:
            archive = shared_archive(
                assignment, self.settings.path_map, windows_here=sys.platform == "win32"
            )
            log.info("task %d: reading study %s", assignment.task_id, archive)
            return archive
        with self.shutdown.interruptible(on_drain=False):
            return self.cache.archive_for(assignment, stop)

    def _check_disk(self, assignment: TaskAssignment) -> Failure | None:
        """Refuse the task (hand it back) when it would leave too little free disk.

        The estimate counts the archive if it is not cached yet, plus an unpacked copy at
        least as large as the archive. Cached archives are evicted first if that helps.
        """
        needed = assignment.study_size * (1 if self.cache.has(assignment.study_sha256) else 2)
        minimum = int(self.settings.min_free_disk_bytes)
        reason = low_disk_reason(self.settings.data_dir, minimum, needed)
        if reason is not None:
            keep = [self.cache.path_of(assignment.study_sha256)]
            evict_archives(self.settings.cache_dir, 0, keep=keep)
            reason = low_disk_reason(self.settings.data_dir, minimum, needed)
        if reason is None:
            return None
        log.warning("task %d refused: %s", assignment.task_id, reason)
        self._pause_s = self.low_disk_pause_s  # or the driver hands the same task right back
        return Failure(reason, release=True)

    def _run_solver(
        self, assignment: TaskAssignment, staged: StagedTask, study: Study, stop: StopRequest
    ) -> Report | Ran:
        solver = self.solvers.get(assignment.solver_version)
        if solver is None:
            return Failure(
                f"this worker has no solver {assignment.solver_version} "
                f"(it has {', '.join(sorted(self.solvers))})",
                release=True,
            )
        command = [
            str(solver.path),
            "-i",
            str(staged.study_dir),
            f"--force-parallel={self.claim_cores}",
            "-n",
            str(assignment.task_id),
            *assignment.solver_args,
        ]
        before = {path.name for path in find_run_folders(staged.study_dir)}
        process = SolverProcess(
            command,
            staged.log_path,
            cwd=staged.folder,
            pid_file=staged.pid_file,
            temp_dir=staged.temp_dir,
        )
        try:
            process.start()
        except OSError as exc:
            return Failure(
                f"could not start the solver {solver.path}: {exc}", kind=FailureKind.MACHINE
            )
        self.owner.attach(process)
        outcome = process.wait(assignment.time_limit_s, stop)
        log.info(
            "task %d: solver ended after %.1f s (exit status %s%s)",
            assignment.task_id,
            outcome.seconds,
            outcome.exit_code,
            f", {outcome.stopped.value}" if outcome.stopped else "",
        )
        self.drain.check_task(assignment.task_id, outcome.seconds)
        if outcome.stopped is not None:
            detail = process.vacate_detail or stop.detail
            return self._stopped(outcome.stopped, staged, assignment.time_limit_s, detail)
        return Ran(
            exit_code=outcome.exit_code if outcome.exit_code is not None else -1,
            year_by_year=study.year_by_year or "--year-by-year" in assignment.solver_args,
            runs_before=frozenset(before),
            signalled=self.shutdown.drain.is_set(),
        )

    def _stopped(
        self,
        reason: StopReason,
        staged: StagedTask,
        time_limit_s: float | None = None,
        detail: str = "",
    ) -> Report:
        if reason in (StopReason.CANCELLED, StopReason.LEASE_LOST):
            return Dropped(reason.value)
        tail = read_tail(staged.log_path, self.settings.log_tail_lines)
        if reason is StopReason.TIME_LIMIT:
            return Failure(f"killed at the task time limit of {time_limit_s:g} s", tail)
        # shutdown, or vacated for the owner: not the task's fault, not counted
        return Failure(detail or reason.value, tail, release=True)


def _years(years: list[int]) -> str:
    """1-based, as users count them: `1-4, 9`."""
    if not years:
        return "none"
    ranges: list[tuple[int, int]] = []
    for year in sorted(years):
        if ranges and year == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], year)
        else:
            ranges.append((year, year))
    return ", ".join(f"{a + 1}" if a == b else f"{a + 1}-{b + 1}" for a, b in ranges)

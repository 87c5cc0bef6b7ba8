"""Finish an attempt after its solver exited: check, pack, report, clean up, in the
background, while the worker already runs its next task.

Checking a run, zipping it and uploading it takes seconds for a small study and minutes
for a large one; meanwhile the solver's cores would sit idle. So the main loop hands the
finished attempt over and claims again at once. One attempt is finished at a time: a
second waits for the first, so a driver that is away never piles up results on disk.
The attempt's heartbeats go on until its report is accepted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from winjobs.antares.archive import pack_folder
from winjobs.antares.output import check_run, new_run_folder
from winjobs.errors import WinjobsError
from winjobs.wire import FailureKind, TaskAssignment, Transfer
from winjobs.worker.diagnosis import diagnose_exit
from winjobs.worker.reports import Failure, Report, SharedDone, Upload
from winjobs.worker.runner import read_tail
from winjobs.worker.shared import SharedOutput, unzipped_run
from winjobs.worker.staging import StagedTask

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ran:
    """A solver that exited by itself: its run is still to be checked."""

    exit_code: int
    year_by_year: bool
    runs_before: frozenset[str]  #: run folders in output/ before the solver started
    #: the worker was told to stop (a signal) while the solver ran: a batch system ending
    #: the job (Slurm's scancel, preemption, time limit) signals the solver too, and the
    #: run it leaves unfinished is not the task's fault
    signalled: bool = False


def conclude(
    assignment: TaskAssignment,
    staged: StagedTask,
    ran: Ran,
    tail_lines: int,
    shared: SharedOutput | None = None,
) -> Report:
    """Check the run the strict way; a zipped run to upload (or, shared mode, the run's
    path as the driver reaches it), or a failure with the log tail."""
    tail = read_tail(staged.log_path, tail_lines)
    run = new_run_folder(staged.study_dir, ran.runs_before)
    try:
        log_text = staged.log_path.read_text(encoding="utf-8", errors="replace")
        check = check_run(
            run,
            exit_code=ran.exit_code,
            expected_years=assignment.years,
            year_by_year=ran.year_by_year,
            log_text=log_text,
        )
        if not check.ok or run is None:
            seen = diagnose_exit(ran.exit_code, log_text, staged.folder)
            reason = seen.reason or check.reason or "the run failed"
            if ran.signalled:  # handed back, not counted against the task
                return Failure(f"worker stopped by a signal: {reason}", tail, release=True)
            return Failure(reason, tail, kind=seen.kind, evidence=seen.evidence)
        if assignment.transfer is Transfer.SHARED and shared is not None:
            folder = unzipped_run(run)
            return SharedDone(folder, shared.driver_path(folder), tail)
        # The run under its own name (wire.COMPLETE_OUTPUT_FIELD); a zipped run (-z) is
        # uploaded as it is, its entries relative to the run (the driver takes both).
        upload = (
            run
            if run.is_file()
            else pack_folder(run, staged.folder / "run.zip", arcname_root=run.name).path
        )
    except WinjobsError as exc:
        return Failure(f"the run could not be checked and packed: {exc}", tail)
    except OSError as exc:  # the disk, not the run
        return Failure(
            f"the run could not be checked and packed: {exc}", tail, kind=FailureKind.MACHINE
        )
    return Upload(upload, tail)


class Finisher:
    """Runs one finishing job at a time in a background thread."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def submit(self, name: str, job: Callable[[], None]) -> None:
        """Start `job` once the previous one is done."""
        self.wait()
        self._thread = threading.Thread(target=self._guarded, args=(name, job), name=name)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            while self._thread.is_alive():  # in slices: on Windows a join() that blocks
                self._thread.join(0.2)  # also holds back Ctrl-C (the second one kills)
            self._thread = None

    @staticmethod
    def _guarded(name: str, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:  # a bug here must not die silently in a thread
            log.exception("%s failed", name)

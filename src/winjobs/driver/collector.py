"""Task outputs in, one job output out.

`check_output` checks an uploaded run zip where it is, without unpacking it: the archive
guards and every entry's CRC (`winjobs.antares.unpack.check_archive`), then the strict
run check of `winjobs.antares.output` on the files it holds (a complete, successful run
of exactly the task's years); `keep_output` moves it under the job's folder, still
zipped. Unpacking a few files per task cost more than everything else a completion does,
and unpacking them again for the assembly more than the merge: the merge reads the kept
zips where they are and extracts their mc-ind years into the job's output. When a job's
last task is in, `schedule` queues its assembly on the collector's own thread:
`winjobs.antares.merge.merge_runs` builds the job's run folder inside the job's copy of
the study (`study/output/<run folder>/`), moving the tasks' `mc-ind` years into it (HTTP
mode), and the run folder is zipped for download. The merge and the zip run in the
driver's assembly process (`winjobs.driver.assembly`), off the GIL the claims need.

Shared mode (docs/shared-mode.md): a task output reported by path is verified where it
is; with `collect: copy` it is copied in first (`accept_shared`) and then handled like an
upload; with `collect: link` it stays on the worker's share (the task's
`output_location`), the merge links its mc-ind years (`mc_ind="link"`), and the result
zip is only built when someone downloads it, while the workers holding the years are on.

Assembly is idempotent, so an assembly cut short by a crash is simply redone at start-up
(`recover`): it is built in `assembly.tmp/` and renamed into place; year folders an
interrupted run had already moved out of task outputs kept as folders are moved back
first (kept zips are only read). Only after the result zip exists is the
job marked succeeded.
"""

from __future__ import annotations

import io
import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import BinaryIO

from winjobs.antares.archive import pack_folder
from winjobs.antares.output import (
    RUN_KIND,
    Run,
    ZippedRun,
    check_run,
    first_link,
    read_run_file,
    read_run_info,
)
from winjobs.antares.unpack import UnpackLimits, check_archive
from winjobs.antares.zipstream import StreamedEntry
from winjobs.driver import scheduler
from winjobs.driver.assembly import Assembler, link_task_runs, merge_task_runs
from winjobs.driver.errors import Invalid, Unavailable
from winjobs.driver.files import DataDir, Upload, remove_tree, replace_dir
from winjobs.driver.metrics import TaskStats
from winjobs.driver.models import Job, Task
from winjobs.driver.shared import SYMLINK_HELP
from winjobs.driver.store import Store, describe_years
from winjobs.errors import ArchiveError, MergeError, OutputError, WinjobsError

log = logging.getLogger(__name__)

#: folder name of a task output whose zip held the run folder's content at its root
_UNNAMED_RUN = "run"


def _in_tasks_folder(target: Path, write: Callable[[Path], object]) -> Path:
    """`write(target)`, making the job's tasks/ folder first if it is missing (the job's
    first output): a failed write costs less than a stat before every one."""
    try:
        write(target)
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
        write(target)
    return target


def run_folder_name(job: Job, tasks: Sequence[Task]) -> str:
    """`<YYYYMMDD-HHMM><eco|adq|exp>-<job name>`, the way Antares names a run.

    The time is the last task's end, so that a redone assembly picks the same name.
    """
    ends = [t.finished_at for t in tasks if t.finished_at is not None]
    moment = max(ends) if ends else job.created_at
    kind = RUN_KIND.get(job.mode, "eco")
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in job.name).strip("-")
    suffix = f"-{slug[:60]}" if slug else ""
    return f"{moment.astimezone(UTC):%Y%m%d-%H%M}{kind}{suffix}"


class Collector:
    def __init__(
        self,
        store: Store,
        files: DataDir,
        limits: UnpackLimits,
        assembler: Assembler,
        stats: TaskStats | None = None,
    ) -> None:
        self.store = store
        self.files = files
        self.limits = limits
        self.assembler = assembler  #: where merges and result zips run (`assembly`)
        self.stats = stats or TaskStats()  #: assembly durations (`/metrics`)
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._zip_lock = threading.Lock()  #: one result zip built at a time (link mode)
        self._thread: threading.Thread | None = None
        self.idle = threading.Event()  #: set when no assembly is queued or running
        self.idle.set()

    # ------------------------------------------------------------------ task outputs

    def check_output(self, task_id: int, upload: Upload) -> CheckedOutput:
        """Check an uploaded run zip without unpacking it: the archive guards, every
        entry's CRC, and the strict run check on the files it holds, with the years it
        played (`CheckedRun.refusal` then compares them with the task's). Returns it in
        its own temporary file (the upload's, or a new one for an upload held in
        memory), to be kept (`keep_output`) or dropped."""
        try:
            if upload.data is not None:
                run = self.check_bytes(task_id, upload.data)
                staged = self.files.temp_path("output")
                staged.write_bytes(upload.data)
                return CheckedOutput(run, staged)
            with upload.path.open("rb") as handle:
                size = upload.path.stat().st_size
                run = self._check_zip(task_id, handle, size, upload.streamed)
            return CheckedOutput(run, upload.path)
        except BaseException:
            upload.path.unlink(missing_ok=True)
            raise

    def check_bytes(self, task_id: int, data: bytes) -> CheckedRun:
        """`check_output` for an upload held in memory, writing nothing: no I/O, so a
        small one is checked right where it arrived."""
        return self._check_zip(task_id, io.BytesIO(data), len(data))

    def _check_zip(
        self,
        task_id: int,
        handle: BinaryIO,
        size: int,
        streamed: Mapping[int, StreamedEntry] | None = None,
    ) -> CheckedRun:
        try:
            contents: dict[str, bytes] = {}
            with check_archive(
                handle, size, "the zip", limits=self.limits, kept=contents, streamed=streamed
            ) as opened:
                return inspect_run(ZippedRun(opened, "run", contents=contents))
        except WinjobsError as exc:
            raise Invalid(f"task {task_id}: the uploaded output was refused: {exc}") from exc

    def keep_output(self, job_id: int, task_id: int, attempt: int, staged: Path) -> Path:
        """Move a checked output to its place (before the completion is committed)."""
        return _in_tasks_folder(
            self.files.task_output_zip(job_id, task_id, attempt), staged.replace
        )

    def keep_bytes(self, job_id: int, task_id: int, attempt: int, data: bytes) -> Path:
        """Write a checked output held in memory to its place (before the completion is
        committed: a crash in between leaves a file no row refers to, removed at
        start-up; a report that is not recorded removes it)."""
        target = self.files.task_output_zip(job_id, task_id, attempt)
        return _in_tasks_folder(target, lambda path: path.write_bytes(data))

    def discard(self, path: Path | None) -> None:
        if path is not None:
            remove_tree(path)

    def check_shared(self, task_id: int, run: Path, copy: bool) -> CheckedOutput:
        """Check a run folder on a worker's share like an upload; with `copy`, check a
        copy of it in the driver's data folder instead (`CheckedOutput.path`: the
        temporary folder holding it, to be kept with `keep_copy`)."""
        if not copy:
            try:
                return CheckedOutput(inspect_run(run), None)
            except WinjobsError as exc:
                raise Invalid(f"task {task_id}: the shared output was refused: {exc}") from exc
        holder = self.files.temp_path("output")
        try:
            holder.mkdir()
            # links copied as links, then refused: a link swapped in after the check of
            # the share is never followed into the driver's own files
            shutil.copytree(run, holder / run.name, symlinks=True)
            if (link := first_link(holder / run.name)) is not None:
                raise OutputError(f"{run.name} holds a symbolic link or junction ({link})")
            return CheckedOutput(inspect_run(holder / run.name), holder)
        except WinjobsError as exc:
            remove_tree(holder)
            raise Invalid(f"task {task_id}: the shared output was refused: {exc}") from exc
        except OSError as exc:
            remove_tree(holder)
            raise Unavailable(
                f"task {task_id}: cannot copy the output from {run}: {exc.strerror or exc}"
            ) from None

    def keep_copy(self, job_id: int, task_id: int, attempt: int, holder: Path) -> Path:
        """Move a checked copy of a shared run to its place (before the commit)."""
        target = self.files.task_output(job_id, task_id, attempt)
        replace_dir(holder, target)
        return target

    def task_run(self, job_id: int, task: Task) -> Path:
        """A task's run for the merge: on the worker's share (shared mode, collect:
        link), the kept zip (read where it is), or the kept folder (copied from a share)."""
        if task.output_location:  # shared mode, collect: link: on the worker's share
            run = Path(task.output_location)
            try:
                if run.is_dir():
                    return run
            except OSError:
                pass
            raise Invalid(
                f"the output of task {task.id} (years {describe_years(task.years)}) on worker "
                f"{task.worker_name}'s share cannot be read at {run}: is that machine on?"
            )
        kept = self.files.task_output_zip(job_id, task.id, task.attempt)
        if kept.is_file():
            return kept
        folder = self._kept_folder(job_id, task)
        if folder is None:
            raise Invalid(f"the output of task {task.id} is missing from the driver's data")
        return folder

    def _kept_folder(self, job_id: int, task: Task) -> Path | None:
        folder = self.files.task_output(job_id, task.id, task.attempt)
        runs = [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
        return runs[0] if len(runs) == 1 else None

    # ------------------------------------------------------------------ assembly

    def schedule(self, job_id: int) -> None:
        self.idle.clear()
        self._queue.put(job_id)

    def recover(self) -> None:
        """Queue the assemblies a previous run of the driver did not finish."""
        for job_id in self.store.jobs_awaiting_assembly():
            log.info("job %d: redoing its output assembly (interrupted)", job_id)
            self.schedule(job_id)

    def start(self) -> None:
        self.assembler.start()
        self._thread = threading.Thread(target=self._run, name="winjobs-collector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Let a running assembly end (for up to a minute: it is redone at start-up if
        cut short), then end the assembly process."""
        finished = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=60)
            finished = not self._thread.is_alive()
            self._thread = None
        self.assembler.close(wait=finished)

    def _run(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                self.assemble(job_id)
            except Exception:
                log.exception("job %d: output assembly crashed", job_id)
            finally:
                if self._queue.empty():
                    self.idle.set()

    def assemble(self, job_id: int) -> None:
        """Build, zip and publish a job's output; a failure fails the job with the reason."""
        job = self.store.get_job(job_id)
        tasks = self.store.job_tasks(job_id)
        if job_id not in self.store.jobs_awaiting_assembly():
            return
        log_path = self.files.job_log(job_id)
        started = time.monotonic()
        try:
            name = run_folder_name(job, tasks)
            final = self._merged_output(job, tasks, name)
            if not any(t.output_location for t in tasks):  # linked years: zipped on demand
                self._zip_result(job_id, final, name)
        except (WinjobsError, OSError) as exc:
            reason = f"output assembly failed: {exc}"
            if self.store.fail_job(job_id, reason):
                self.files.append_log(log_path, reason)
            return
        if self.store.finish_job(job_id, name):
            seconds = time.monotonic() - started
            self.stats.assembly.observe(seconds)
            took = f"{seconds:.1f} s, {len(tasks)} task outputs"
            self.files.append_log(log_path, f"succeeded: output {name} assembled in {took}")
            log.info("job %d: output %s assembled in %s", job_id, name, took)
            remove_tree(self.files.job_dir(job_id) / "tasks")

    def _merged_output(self, job: Job, tasks: Sequence[Task], name: str) -> Path:
        study = self.files.job_study(job.id)
        final = study / "output" / name
        if final.is_dir():  # renamed into place by an assembly the driver did not record
            return final
        runs = [self.task_run(job.id, t) for t in tasks]
        work = self.files.assembly_dir(job.id)
        if work.exists():  # a killed assembly: years it moved out of kept folders go back
            restore_moved_years(work, tasks, runs)
            remove_tree(work)
        work.mkdir(parents=True)
        if any(t.output_location for t in tasks):
            local_tasks = self.files.job_dir(job.id) / "tasks"
            try:
                self.assembler.run(link_task_runs, study, runs, work / name, local_tasks)
            except MergeError as exc:
                message = str(exc)
                if "cannot create the symbolic link" in message:  # the merge's hint is for users
                    head = message.partition("; on Windows")[0]
                    raise MergeError(f"{head}; {SYMLINK_HELP}") from None
                raise
        else:
            self.assembler.run(merge_task_runs, study, runs, work / name)
        replace_dir(work / name, final)
        remove_tree(work)
        return final

    def _zip_result(self, job_id: int, final: Path, name: str) -> Path:
        """The download: the run folder under its name, or, for a study that asks for
        `result-format = zip`, the run itself as the solver zips it (entries relative to
        the run, offered as `<run>.zip`: what a single run leaves in `output/`)."""
        result = self.files.result_zip(job_id)
        if not result.is_file():
            staging = self.files.temp_path("result")
            root = None if read_run_info(final).zipped else name
            try:
                self.assembler.run(pack_folder, final, staging, arcname_root=root)
                staging.replace(result)
            finally:
                staging.unlink(missing_ok=True)
        return result

    def result_zip(self, job: Job) -> Path:
        """The job's result zip, built now if its output links years on workers' shares.

        Raises Unavailable when a linked year cannot be read (its worker is off).
        """
        assert job.run_folder is not None
        result = self.files.result_zip(job.id)
        if result.is_file():
            return result
        final = self.files.job_study(job.id) / "output" / job.run_folder
        if not final.is_dir():
            return result  # removed: the caller says so
        with self._zip_lock:
            try:
                return self._zip_result(job.id, final, job.run_folder)
            except (ArchiveError, OSError) as exc:
                raise Unavailable(
                    f"the output of job {job.id} links years kept on workers' shares, and "
                    f"one cannot be read ({exc}): start that worker machine and try again"
                ) from None


@dataclass(frozen=True)
class CheckedRun:
    """A task output that passed every check its task has no say in: a finished,
    successful run of the years it says it played."""

    name: str
    years: tuple[int, ...]
    version: str

    def refusal(self, years: list[int], solver_version: str | None) -> str | None:
        """Why this run cannot complete a task of `years` given `solver_version`."""
        if sorted(self.years) != sorted(years):
            return (
                f"{self.name} played years {describe_years(self.years)}, "
                f"the task is years {describe_years(years)}"
            )
        if solver_version is None:
            return None
        try:
            made_by = scheduler.parse_version(self.version)
        except ValueError as exc:
            return f"{self.name}: {exc}"
        if made_by != scheduler.parse_version(solver_version):
            return f"{self.name} was made by Antares {made_by}, the task asked for {solver_version}"
        return None


@dataclass(frozen=True)
class CheckedOutput:
    """A checked task output and where it waits to be kept: the zip's own temporary
    file, a temporary folder holding a copy of a shared run, or None (a shared run
    kept where it is)."""

    run: CheckedRun
    path: Path | None


def inspect_run(run: Run) -> CheckedRun:
    """Raise OutputError unless `run` (a folder, or a zipped run) is a finished,
    successful run: the strict check, against the years it played."""
    if read_run_file(run, "execution_info.ini") is None:
        raise OutputError(f"{run.name} has no execution_info.ini: the run did not finish")
    info = read_run_info(run)
    check = check_run(
        run, exit_code=0, expected_years=info.years, year_by_year=info.year_by_year, log_text=""
    )
    if not check.ok:
        raise OutputError(check.reason or f"{run.name} is not a successful run")
    return CheckedRun(run.name, info.years, info.version)


def restore_moved_years(work: Path, tasks: Sequence[Task], runs: Sequence[Path]) -> None:
    """Undo a merge the driver's death interrupted: put back what it had moved.

    `merge_runs(mc_ind="move")` moves each year's `<mode>/mc-ind/NNNNN/` folder and its
    `optimization/week-by-week/year_<n>.txt` file out of the task runs into its staging
    folder (inside `work`); it puts them back itself on an error, but not on a kill -9.
    Only run folders lose years so (a zipped run's are extracted, never moved).
    """
    owner = {
        year: run
        for task, run in zip(tasks, runs, strict=True)
        if run.is_dir()
        for year in task.years
    }
    for moved in work.glob("*/*/mc-ind/*"):
        if moved.name.isdigit() and (run := owner.get(int(moved.name) - 1)) is not None:
            _put_back(moved, run / moved.parent.parent.name / "mc-ind" / moved.name)
    for moved in work.glob("*/optimization/week-by-week/year_*.txt"):
        number = moved.stem.removeprefix("year_")
        if number.isdigit() and (run := owner.get(int(number))) is not None:
            _put_back(moved, run / "optimization" / "week-by-week" / moved.name)


def _put_back(moved: Path, home: Path) -> None:
    if not home.exists():
        home.parent.mkdir(parents=True, exist_ok=True)
        moved.replace(home)

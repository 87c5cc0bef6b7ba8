"""Task outputs in, one job output out.

`accept_output` unpacks an uploaded run folder (with the archive guards), checks it with
`winjobs.antares.output` (a complete, successful run of exactly the task's years) and
keeps it under the job's folder. When a job's last task is in, `schedule` queues its
assembly on the collector's own thread: `winjobs.antares.merge.merge_runs` builds the job's
run folder inside the job's copy of the study (`study/output/<run folder>/`), moving the
tasks' `mc-ind` years into it (HTTP mode), and the run folder is zipped for download.

Shared mode (docs/shared-mode.md): a task output reported by path is verified where it
is; with `collect: copy` it is copied in first (`accept_shared`) and then handled like an
upload; with `collect: link` it stays on the worker's share (the task's
`output_location`), the merge links its mc-ind years (`mc_ind="link"`), and the result
zip is only built when someone downloads it, while the workers holding the years are on.

Assembly is idempotent, so an assembly cut short by a crash is simply redone at start-up
(`recover`): it is built in `assembly.tmp/` and renamed into place; year folders an
interrupted run had already moved out of the task outputs are moved back first. Only
after the result zip exists is the job marked succeeded.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path

from winjobs.antares.archive import pack_folder
from winjobs.antares.merge import merge_runs
from winjobs.antares.output import RUN_KIND, check_run, read_run_info
from winjobs.antares.unpack import UnpackLimits, unpack_archive
from winjobs.driver import scheduler
from winjobs.driver.errors import Invalid, Unavailable
from winjobs.driver.files import DataDir, remove_tree, replace_dir
from winjobs.driver.models import Job, Task
from winjobs.driver.shared import SYMLINK_HELP
from winjobs.driver.store import Store, describe_years
from winjobs.errors import ArchiveError, MergeError, OutputError, WinjobsError

log = logging.getLogger(__name__)

#: folder name of a task output whose zip held the run folder's content at its root
_UNNAMED_RUN = "run"
#: file beside an accepted output's run folder: the sha256 of the upload it came from, so
#: that a worker sending the same bytes again (its first answer lost) is acknowledged
UPLOAD_DIGEST = ".upload-sha256"


def _run_root(unpacked: Path) -> Path:
    """The run folder in an unpacked upload: its root, or its only top-level folder."""
    children = [p for p in unpacked.iterdir() if not p.name.startswith(".")]
    if len(children) == 1 and children[0].is_dir():
        return children[0]
    return unpacked


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
    def __init__(self, store: Store, files: DataDir, limits: UnpackLimits) -> None:
        self.store = store
        self.files = files
        self.limits = limits
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._zip_lock = threading.Lock()  #: one result zip built at a time (link mode)
        self._thread: threading.Thread | None = None
        self.idle = threading.Event()  #: set when no assembly is queued or running
        self.idle.set()

    # ------------------------------------------------------------------ task outputs

    def accept_output(
        self,
        task_id: int,
        years: list[int],
        solver_version: str | None,
        upload: Path,
        sha256: str,
    ) -> Path:
        """Unpack and check an uploaded run folder in a temporary folder of its own, which
        is returned: it becomes the task's output only when `place_output` renames it into
        place, under the fence (a repeated upload of the same attempt never touches the
        output another request placed)."""
        kept = self.files.temp_path("output")
        try:
            unpack_archive(upload, kept, limits=self.limits, label="the uploaded zip")
            run = _run_root(kept)
            verify_task_run(run, years, solver_version)
            if run == kept:  # give the run folder a name inside its task folder
                unpacked, kept = kept, self.files.temp_path("output")
                kept.mkdir()
                unpacked.replace(kept / _UNNAMED_RUN)
            remove_tree(kept / UPLOAD_DIGEST)
            (kept / UPLOAD_DIGEST).write_text(sha256, encoding="ascii")
            return kept
        except WinjobsError as exc:
            remove_tree(kept)
            raise Invalid(f"task {task_id}: the uploaded output was refused: {exc}") from exc
        except BaseException:
            remove_tree(kept)
            raise
        finally:
            upload.unlink(missing_ok=True)

    def accept_shared(
        self,
        task_id: int,
        years: list[int],
        solver_version: str | None,
        run: Path,
        copy: bool,
    ) -> Path | None:
        """Verify a run folder on a worker's share; with `copy`, verify a copy of it in a
        temporary folder instead (returned, for `place_output`), else leave it there (None)."""
        if not copy:
            try:
                verify_task_run(run, years, solver_version)
            except WinjobsError as exc:
                raise Invalid(f"task {task_id}: the shared output was refused: {exc}") from exc
            return None
        holder = self.files.temp_path("output")
        try:
            holder.mkdir()
            shutil.copytree(run, holder / run.name)
            verify_task_run(holder / run.name, years, solver_version)
            return holder
        except WinjobsError as exc:
            remove_tree(holder)
            raise Invalid(f"task {task_id}: the shared output was refused: {exc}") from exc
        except OSError as exc:
            remove_tree(holder)
            raise Unavailable(
                f"task {task_id}: cannot copy the output from {run}: {exc.strerror or exc}"
            ) from None
        except BaseException:
            remove_tree(holder)
            raise

    def place_output(self, verified: Path, job_id: int, task_id: int, attempt: int) -> Path:
        """Rename a verified output into the task's folder. Called only by the request
        whose completion the store is recording (inside its transaction)."""
        target = self.files.task_output(job_id, task_id, attempt)
        replace_dir(verified, target)
        return target

    def accepted_digest(self, job_id: int, task_id: int, attempt: int) -> str | None:
        """sha256 of the upload an accepted output came from (None: unknown or gone)."""
        marker = self.files.task_output(job_id, task_id, attempt) / UPLOAD_DIGEST
        try:
            return marker.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None

    def task_run_dir(self, job_id: int, task: Task) -> Path:
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
        folder = self.files.task_output(job_id, task.id, task.attempt)
        runs = [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
        if len(runs) != 1:
            raise Invalid(f"the output of task {task.id} is missing from the driver's data")
        return runs[0]

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
        self._thread = threading.Thread(target=self._run, name="winjobs-collector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=60)
            self._thread = None

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
            self.files.append_log(log_path, f"succeeded: output {name} assembled")
            remove_tree(self.files.job_dir(job_id) / "tasks")

    def _merged_output(self, job: Job, tasks: Sequence[Task], name: str) -> Path:
        study = self.files.job_study(job.id)
        final = study / "output" / name
        if final.is_dir():  # renamed into place by an assembly the driver did not record
            return final
        runs = [self.task_run_dir(job.id, t) for t in tasks]
        work = self.files.assembly_dir(job.id)
        if work.exists():
            restore_moved_years(work, tasks, runs)
            remove_tree(work)
        work.mkdir(parents=True)
        if any(t.output_location for t in tasks):
            link_task_runs(study, runs, work / name, self.files.job_dir(job.id) / "tasks")
        else:
            merge_task_runs(study, runs, work / name)
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
                pack_folder(final, staging, arcname_root=root)
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


def verify_task_run(run: Path, years: list[int], solver_version: str | None) -> None:
    """Raise OutputError unless `run` is a finished, successful run of exactly `years`
    made by the solver version the task was given."""
    if not (run / "execution_info.ini").is_file():
        raise OutputError(f"{run.name} has no execution_info.ini: the run did not finish")
    info = read_run_info(run)
    if sorted(info.years) != sorted(years):
        raise OutputError(
            f"{run.name} played years {describe_years(info.years)}, "
            f"the task is years {describe_years(years)}"
        )
    if solver_version is not None:
        try:
            made_by = scheduler.parse_version(info.version)
        except ValueError as exc:
            raise OutputError(f"{run.name}: {exc}") from None
        if made_by != scheduler.parse_version(solver_version):
            raise OutputError(
                f"{run.name} was made by Antares {made_by}, the task asked for {solver_version}"
            )
    check = check_run(
        run, exit_code=0, expected_years=years, year_by_year=info.year_by_year, log_text=""
    )
    if not check.ok:
        raise OutputError(check.reason or f"{run.name} is not a successful run")


def merge_task_runs(study: Path, runs: list[Path], out: Path) -> None:
    """One run folder from the tasks' runs; their mc-ind years are moved (HTTP mode)."""
    merge_runs(study, runs, out, mc_ind="move")


def link_task_runs(study: Path, runs: list[Path], out: Path, local_tasks: Path) -> None:
    """One run folder whose mc-ind years link to the tasks' runs (shared mode, collect:
    link); years of runs kept in the driver's own `local_tasks` (uploaded by HTTP workers)
    are then moved in, since that folder goes once the job is assembled."""
    try:
        merge_runs(study, runs, out, mc_ind="link")
    except MergeError as exc:
        message = str(exc)
        if "cannot create the symbolic link" in message:  # the merge's own hint is for users
            raise MergeError(f"{message.partition('; on Windows')[0]}; {SYMLINK_HELP}") from None
        raise
    inside = local_tasks.resolve()
    for link in [*out.glob("*/mc-ind/*"), *out.glob("optimization/week-by-week/year_*.txt")]:
        if not link.is_symlink():
            continue
        target = link.readlink()
        if target.is_relative_to(inside):
            link.unlink()
            shutil.move(str(target), str(link))


def restore_moved_years(work: Path, tasks: Sequence[Task], runs: Sequence[Path]) -> None:
    """Undo a merge the driver's death interrupted: put back what it had moved.

    `merge_runs(mc_ind="move")` moves each year's `<mode>/mc-ind/NNNNN/` folder and its
    `optimization/week-by-week/year_<n>.txt` file out of the task runs into its staging
    folder (inside `work`); it puts them back itself on an error, but not on a kill -9.
    """
    owner = {year: run for task, run in zip(tasks, runs, strict=True) for year in task.years}
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

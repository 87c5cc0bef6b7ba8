"""Put a task's study on local disk: the cached archive, a fresh copy, the task's playlist.

Archives are cached by content hash, so the tasks of one job (often dozens on the same
machine) download the study once. Every attempt unpacks into a folder of its own: the
solver writes into `STUDY/output/`, and two attempts must never see each other's runs.

Shared-folder transfer reads the archive where the driver wrote it instead
(`worker.shared.shared_archive`, chosen by `Agent._archive`); unpacking and the playlist
stay the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from winjobs.antares.playlist import write_task_playlist
from winjobs.antares.study import Study, open_study
from winjobs.antares.unpack import UnpackLimits, unpack_archive
from winjobs.client import DriverClient
from winjobs.errors import WinjobsError
from winjobs.wire import TaskAssignment, Transfer
from winjobs.worker.hygiene import SOLVER_PID_FILE, evict_archives, touch
from winjobs.worker.retry import Backoff, Cancellable, retry_transient

log = logging.getLogger(__name__)


class StagingError(WinjobsError):
    """The study could not be put in place for a task."""


@dataclass(frozen=True)
class StagedTask:
    """Where one attempt of a task lives on the worker's disk."""

    folder: Path  #: the attempt's own folder
    study_dir: Path  #: the unpacked study the solver runs on
    log_path: Path  #: the solver's stdout and stderr
    pid_file: Path  #: the running solver's pid, for a later worker to clean up after us
    #: the solver's own temporary folder (`runner.solver_environment`), deleted with
    #: the attempt's folder
    temp_dir: Path

    @classmethod
    def under(cls, folder: Path) -> StagedTask:
        return cls(
            folder=folder,
            study_dir=folder / "study",
            log_path=folder / "solver.log",
            pid_file=folder / SOLVER_PID_FILE,
            temp_dir=folder / "tmp",
        )


class StudyCache:
    """Study archives by sha256 under `cache_dir`, fetched from the driver on a miss."""

    def __init__(
        self,
        client: DriverClient,
        cache_dir: Path,
        max_bytes: int,
        backoff: Backoff,
    ) -> None:
        self.client = client
        self.cache_dir = cache_dir
        self.max_bytes = max_bytes
        self.backoff = backoff

    def path_of(self, sha256: str) -> Path:
        return self.cache_dir / f"{sha256}.zip"

    def has(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def archive_for(self, assignment: TaskAssignment, stop: Cancellable) -> Path:
        """The task's study archive on local disk, downloaded if not cached yet."""
        if assignment.transfer is not Transfer.HTTP:
            raise StagingError(
                f"transfer {assignment.transfer.value!r} is not supported by this worker"
            )
        path = self.path_of(assignment.study_sha256)
        if path.is_file():
            touch(path)
            return path
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        log.info(
            "task %d: downloading study %s (%d bytes)",
            assignment.task_id,
            assignment.study_sha256[:12],
            assignment.study_size,
        )
        # A dropped connection leaves `<sha>.zip.part`; the next try resumes it, and
        # download_study checks the hash before `<sha>.zip` appears.
        retry_transient(
            lambda: self.client.download_study(assignment.study_sha256, path),
            what=f"download of study {assignment.study_sha256[:12]}",
            backoff=self.backoff,
            abort=stop,
        )
        evict_archives(self.cache_dir, self.max_bytes, keep=[path])
        return path


def unpack_task(
    archive: Path,
    staged: StagedTask,
    years: list[int],
    limits: UnpackLimits | None = None,
    sevenzip: Path | None = None,
) -> Study:
    """Unpack the study into the attempt's folder and make it play exactly `years`.

    Returns the task copy's facts (the run check needs to know if it is year-by-year).
    """
    unpack_archive(archive, staged.study_dir, limits=limits or UnpackLimits(), sevenzip=sevenzip)
    write_task_playlist(staged.study_dir, years)
    return open_study(staged.study_dir)

"""`winjobs clean data` on the driver: remove finished jobs' folders and rows, keep a
summary (`job_archive`), and drop study archives no job uses any more.

Rules:
- Only jobs that ended (succeeded, failed, cancelled) longer ago than `--older-than` go.
  The status is checked again in the transaction that deletes the row, so a job retried
  meanwhile (queued or running again) keeps everything; its files are only removed
  after its row is gone, so a crash in between leaves files the driver's start-up
  clean-up removes (no row refers to them).
- On SQLite the newest job stays (its id would be handed out again).
- A job whose years were linked from workers' shares (collect: link) loses its merged
  output; the workers' folders stay until `winjobs clean data` runs on the workers; the
  summary lists them.

Runs beside a running driver (separate process): the database serialises the writers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from winjobs.driver.db import make_engine, migrate
from winjobs.driver.files import DataDir, remove_tree
from winjobs.driver.settings import DriverSettings
from winjobs.driver.shared import SharedFolders
from winjobs.driver.store import FinishedJob, Store, utcnow

#: An unreferenced study archive used this recently is kept: a submission may be
#: between storing its archive and committing its job row.
ARCHIVE_GRACE_S = 3600.0


@dataclass(frozen=True)
class JobRemoval:
    finished: FinishedJob
    folder: Path
    size: int

    @property
    def job_id(self) -> int:
        return self.finished.job.id

    def linked_outputs(self) -> list[dict[str, Any]]:
        return [
            {
                "task": t.id,
                "worker": t.worker_name,
                "years": list(t.years),
                "location": t.output_location,
            }
            for t in self.finished.tasks
            if t.output_location
        ]

    def summary(self, removed_at: datetime) -> dict[str, Any]:
        job = self.finished.job
        return {
            "name": job.name,
            "submitter": job.submitter,
            "status": job.status,
            "study_name": job.study_name,
            "study_sha256": job.study_sha256,
            "antares_version": job.antares_version,
            "mode": job.mode,
            "years": list(job.years),
            "tasks": len(self.finished.tasks),
            "run_folder": job.run_folder,
            "error": job.error,
            "linked_outputs": self.linked_outputs(),
            "bytes_freed": self.size,
            "created_at": job.created_at,
            "finished_at": job.finished_at,
            "removed_at": removed_at,
        }


@dataclass
class CleanReport:
    removed: list[JobRemoval]
    skipped: list[int]  #: jobs that became active again before their turn
    archives: list[Path]  #: study archives no job uses any more

    @property
    def bytes_freed(self) -> int:
        return sum(r.size for r in self.removed)


def tree_size(path: Path) -> int:
    """Bytes under `path`; symbolic links (linked mc-ind years) count as links only."""
    total = 0
    for folder, _dirs, names in os.walk(path):
        for name in names:
            try:
                total += (Path(folder) / name).lstat().st_size
            except OSError:
                continue
    return total


@dataclass
class Maintenance:
    """The driver's database and folders, opened by an operator command."""

    store: Store
    files: DataDir
    shared: SharedFolders


@contextmanager
def maintenance(settings: DriverSettings) -> Iterator[Maintenance]:
    engine = make_engine(settings.resolved_database_url, pool_size=2)
    try:
        migrate(engine)
        store = Store(engine)
        files = DataDir(settings.data_dir)
        yield Maintenance(store, files, SharedFolders(settings, files, store))
    finally:
        engine.dispose()


def plan_clean(store: Store, files: DataDir, before: datetime) -> list[JobRemoval]:
    """The jobs `winjobs clean data` would remove (nothing is changed here)."""
    plan = []
    for finished in store.finished_jobs(before):
        folder = files.job_dir(finished.job.id)
        plan.append(JobRemoval(finished, folder, tree_size(folder) if folder.is_dir() else 0))
    return plan


def apply_clean(target: Maintenance, plan: list[JobRemoval]) -> CleanReport:
    """Remove the planned jobs (row first, summary kept, then files), then the study
    archives no remaining job refers to."""
    report = CleanReport(removed=[], skipped=[], archives=[])
    for removal in plan:
        if not target.store.archive_job(removal.job_id, removal.summary(utcnow())):
            report.skipped.append(removal.job_id)
            continue
        remove_tree(removal.folder)
        report.removed.append(removal)
    keep = target.store.study_hashes()
    unused_since = time.time() - ARCHIVE_GRACE_S
    if target.files.studies.is_dir():
        for archive in sorted(target.files.studies.iterdir()):
            if archive.stat().st_mtime > unused_since:
                continue  # maybe a submission whose job row is not committed yet
            if archive.name.removesuffix(".zip") not in keep:
                remove_tree(archive)
                report.archives.append(archive)
    report.archives += target.shared.remove_archives(keep, unused_since)
    return report

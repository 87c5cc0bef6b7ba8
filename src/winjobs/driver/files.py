"""The driver's data folder: where every file lives, and how it gets there atomically.

```
<data_dir>/
  winjobs.db                      SQLite database (default)
  tmp/                            in-flight uploads and unpacking; emptied at start-up
  studies/<sha256>.zip            submitted archives, content-addressed (workers fetch by hash)
  jobs/<job id>/
    job.log                       the job's event log (GET /jobs/{id}/log)
    study/                        the job's validated copy of the study
    study/output/<run folder>/    the assembled output, once the job succeeded
    result.zip                    that run folder zipped (GET /jobs/{id}/result)
    tasks/<task id>-a<attempt>/   an accepted task output (its run folder inside)
    logs/task-<task id>.log       log tails the workers reported, per attempt
    assembly.tmp/                 an output being assembled (redone if the driver died)
```

Rule: a file is written under `tmp/` (same file system), then renamed into place, and
only then is the database change that refers to it committed. So after a crash a
committed row always has its files, and files without a committed row are removed at
start-up (`cleanup`). Task outputs carry their attempt in their folder name, so a late
report from a stale attempt can never overwrite an accepted output.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import uuid
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _force_remove(func: Callable[..., Any], path: str, _exc: object) -> None:
    """Windows refuses to delete read-only files: clear the flag and try again."""
    Path(path).chmod(stat.S_IWRITE)
    func(path)


def remove_tree(path: Path) -> None:
    """Delete a file, a folder or a link (never what a link points to); missing is fine."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=_force_remove)
        else:
            shutil.rmtree(path, onerror=_force_remove)


def replace_dir(source: Path, dest: Path) -> None:
    """Move folder `source` to `dest`, replacing any previous `dest` (Windows-safe)."""
    if dest.exists() or dest.is_symlink():
        remove_tree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    source.replace(dest)


class DataDir:
    """Paths of the data folder (see the module docstring for the layout)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.tmp = self.root / "tmp"
        self.studies = self.root / "studies"
        self.jobs = self.root / "jobs"

    def prepare(self) -> None:
        """Create the folders and drop whatever a previous run left half-written in tmp/."""
        for folder in (self.root, self.studies, self.jobs):
            folder.mkdir(parents=True, exist_ok=True)
        remove_tree(self.tmp)
        self.tmp.mkdir()

    def temp_path(self, label: str) -> Path:
        """A fresh, unused path under tmp/ (nothing is created)."""
        return self.tmp / f"{label}-{uuid.uuid4().hex}"

    # ------------------------------------------------------------------ studies

    def study_archive(self, sha256: str) -> Path:
        return self.studies / f"{sha256}.zip"

    def keep_archive(self, uploaded: Path, sha256: str) -> Path:
        """Move an uploaded archive to its content address (dropping it if already there)."""
        target = self.study_archive(sha256)
        if target.is_file():
            uploaded.unlink(missing_ok=True)
            os.utime(target)  # just used: `winjobs clean` spares recently used archives
        else:
            uploaded.replace(target)
        return target

    # ------------------------------------------------------------------ jobs

    def job_dir(self, job_id: int) -> Path:
        return self.jobs / str(job_id)

    def job_study(self, job_id: int) -> Path:
        return self.job_dir(job_id) / "study"

    def job_log(self, job_id: int) -> Path:
        return self.job_dir(job_id) / "job.log"

    def task_log(self, job_id: int, task_id: int) -> Path:
        return self.job_dir(job_id) / "logs" / f"task-{task_id}.log"

    def task_output(self, job_id: int, task_id: int, attempt: int) -> Path:
        return self.job_dir(job_id) / "tasks" / f"{task_id}-a{attempt}"

    def result_zip(self, job_id: int) -> Path:
        return self.job_dir(job_id) / "result.zip"

    def assembly_dir(self, job_id: int) -> Path:
        return self.job_dir(job_id) / "assembly.tmp"

    def append_log(self, path: Path, text: str) -> None:
        """Append timestamped lines to a log file (one write: lines never interleave)."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        lines = "".join(f"[{stamp}] {line}\n" for line in text.rstrip("\n").splitlines())
        try:
            handle = path.open("a", encoding="utf-8")
        except FileNotFoundError:  # first line of the folder (rare: no mkdir on the hot path)
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = path.open("a", encoding="utf-8")
        with handle:
            handle.write(lines)

    # ------------------------------------------------------------------ start-up

    def cleanup(
        self,
        job_ids: Collection[int],
        archives: Collection[str],
        outputs: Collection[tuple[int, int, int]],
    ) -> list[Path]:
        """Remove files no committed row refers to; returns what was removed.

        `job_ids`: jobs in the database; `archives`: study hashes they use; `outputs`:
        (job, task, attempt) of the task outputs still needed (`Store.outputs_to_keep`).
        """
        removed: list[Path] = []
        for folder in self.jobs.iterdir():
            if not folder.name.isdigit() or int(folder.name) not in job_ids:
                removed.append(folder)
        for archive in self.studies.iterdir():
            if archive.name.removesuffix(".zip") not in archives:
                removed.append(archive)
        for job_id in job_ids:
            tasks = self.job_dir(job_id) / "tasks"
            if not tasks.is_dir():
                continue
            for output in tasks.iterdir():
                task, _, attempt = output.name.partition("-a")
                key = (
                    (job_id, int(task), int(attempt))
                    if task.isdigit() and attempt.isdigit()
                    else None
                )
                if key not in outputs:
                    removed.append(output)
        for path in removed:
            remove_tree(path)
        return removed

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
    tasks/<task id>-a<attempt>.zip  an accepted task output, zipped as uploaded (a folder,
                                  its run folder inside, when copied from a share)
    logs/tasks.log                log tails the workers reported, per task and attempt
    assembly.tmp/                 an output being assembled (redone if the driver died)
```

Rule: a file is written under `tmp/` (same file system), then renamed into place, and
only then is the database change that refers to it committed. So after a crash a
committed row always has its files, and files without a committed row are removed at
start-up (`cleanup`). Task outputs carry their attempt in their folder name, so a late
report from a stale attempt can never overwrite an accepted output.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import stat
import sys
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from winjobs.antares.zipstream import StreamedEntry


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


@dataclass(frozen=True)
class Upload:
    """A file received in full (see api/uploads.py): at `path` under tmp/, or in `data`
    when it was small enough to be kept in memory (then nothing is at `path` yet)."""

    path: Path
    size: int
    sha256: str = ""  #: empty unless the reception hashed it
    data: bytes | None = None
    #: a zip's entries checked as it arrived (`zipstream`), by local header offset
    streamed: Mapping[int, StreamedEntry] | None = None


def same_content(path: Path, other: Path | bytes) -> bool:
    """Whether the file at `path` holds exactly `other` (a file or bytes); False if
    either is missing."""
    try:
        if isinstance(other, bytes):
            return path.stat().st_size == len(other) and path.read_bytes() == other
        if path.stat().st_size != other.stat().st_size:
            return False
        with path.open("rb") as first, other.open("rb") as second:
            while block := first.read(1 << 20):
                if block != second.read(len(block)):
                    return False
        return True
    except FileNotFoundError:
        return False


_TASK_RECORD = re.compile(
    r"===== task (?P<task>\d+) attempt (?P<attempt>\d+): (?P<lines>\d+) lines ====="
)


def read_text(path: Path) -> str:
    """A log file's text; empty when it does not exist (yet)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


class DataDir:
    """Paths of the data folder (see the module docstring for the layout)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.tmp = self.root / "tmp"
        self._stamp = uuid.uuid4().hex[:12]
        self._counter = itertools.count()
        self.studies = self.root / "studies"
        self.jobs = self.root / "jobs"

    def prepare(self) -> None:
        """Create the folders and drop whatever a previous run left half-written in tmp/."""
        for folder in (self.root, self.studies, self.jobs):
            folder.mkdir(parents=True, exist_ok=True)
        remove_tree(self.tmp)
        self.tmp.mkdir()

    def temp_path(self, label: str) -> Path:
        """A fresh, unused path under tmp/ (nothing is created): this process's random
        stamp and a counter (a uuid4 per upload asked the kernel for randomness each time;
        tmp/ is emptied at start-up and one process owns the data folder)."""
        return self.tmp / f"{label}-{self._stamp}-{next(self._counter)}"

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
        """A task's own log file, as drivers before issue 14 wrote them (still read)."""
        return self.job_dir(job_id) / "logs" / f"task-{task_id}.log"

    def tasks_log(self, job_id: int) -> Path:
        """The log tails of every task of the job, one record per report."""
        return self.job_dir(job_id) / "logs" / "tasks.log"

    def append_task_log(self, job_id: int, task_id: int, attempt: int, text: str) -> None:
        """Add a report's log tail to the job's tasks.log: one file per job, not per task
        (a file made for every task was a good part of what a completion cost)."""
        lines = text.rstrip().split("\n")
        record = f"===== task {task_id} attempt {attempt}: {len(lines)} lines =====\n"
        record += "\n".join(lines) + "\n"
        path = self.tasks_log(job_id)
        try:
            handle = path.open("a", encoding="utf-8")
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = path.open("a", encoding="utf-8")
        with handle:
            handle.write(record)

    def read_task_log(self, job_id: int, task_id: int) -> str:
        """A task's log tails, one `===== attempt N =====` section per report."""
        text = read_text(self.task_log(job_id, task_id))
        lines = read_text(self.tasks_log(job_id)).split("\n")
        at = 0
        while at < len(lines):
            header = _TASK_RECORD.fullmatch(lines[at])
            if header is None:
                at += 1
                continue
            count = int(header["lines"])
            if int(header["task"]) == task_id:
                body = "\n".join(lines[at + 1 : at + 1 + count])
                text += f"===== attempt {header['attempt']} =====\n{body}\n"
            at += 1 + count
        return text

    def task_output(self, job_id: int, task_id: int, attempt: int) -> Path:
        """An accepted output kept as a folder (shared mode with collect: copy)."""
        return self.job_dir(job_id) / "tasks" / f"{task_id}-a{attempt}"

    def task_output_zip(self, job_id: int, task_id: int, attempt: int) -> Path:
        """An accepted upload, kept zipped until the job's output is assembled."""
        return self.job_dir(job_id) / "tasks" / f"{task_id}-a{attempt}.zip"

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

    def append_job_lines(self, lines: list[tuple[int, str]]) -> None:
        """Job-log lines of several jobs, in order: one write per job."""
        by_job: dict[int, list[str]] = {}
        for job_id, text in lines:
            by_job.setdefault(job_id, []).append(text)
        for job_id, texts in by_job.items():
            self.append_log(self.job_log(job_id), "\n".join(texts))

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
                task, _, attempt = output.name.removesuffix(".zip").partition("-a")
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

"""`winjobs clean data` on a worker: old task folders and cached archives; and the lock
that tells it (and a second worker) that a worker runs on this data folder.

Rules:
- A task folder the driver links to (shared mode, collect: link; `hygiene.LINKED_MARKER`)
  is removed once its run was acknowledged longer ago than `--older-than`. The driver's
  merged outputs that link to it then miss those years: clean the driver first, or give
  workers a longer age than the driver (docs/operations.md).
- Any other task folder is the worker's own business (deleted once its report is
  accepted, or at the worker's next start); `clean` removes old ones only while no
  worker runs on this data folder, so a running task is never touched.
- Cached study archives not used for longer than `--older-than` go (the cache is also
  bounded by size while the worker runs).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from winjobs.errors import WinjobsError
from winjobs.worker.hygiene import LINKED_MARKER, is_linked, remove_tree
from winjobs.worker.settings import WorkerSettings

#: In the data folder while a worker runs on it: its pid and process creation time.
LOCK_FILE = "worker.pid"


class WorkerBusy(WinjobsError):
    """Another worker process already uses this data folder."""


def running_worker(data_dir: Path) -> int | None:
    """The pid of the worker running on `data_dir`, if one is (a stale file is ignored)."""
    try:
        recorded = json.loads((data_dir / LOCK_FILE).read_text(encoding="utf-8"))
        process = psutil.Process(int(recorded["pid"]))
        if abs(process.create_time() - float(recorded["created"])) < 1.0:
            return process.pid
    except (OSError, ValueError, KeyError, TypeError, psutil.Error):
        pass
    return None


@contextmanager
def worker_lock(data_dir: Path) -> Iterator[None]:
    """Mark `data_dir` as used by this process for the block; WorkerBusy if another
    running worker holds it (two workers on one folder would delete each other's tasks)."""
    other = running_worker(data_dir)
    if other is not None and other != os.getpid():
        raise WorkerBusy(f"another worker (pid {other}) runs on the data folder {data_dir}")
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = data_dir / LOCK_FILE
    me = psutil.Process()
    lock.write_text(json.dumps({"pid": me.pid, "created": me.create_time()}), encoding="utf-8")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


@dataclass(frozen=True)
class Removal:
    path: Path
    what: str  #: "linked run", "task folder", "cached archive"
    modified: datetime
    size: int
    note: str = ""  #: a linked run: the job, task and years it held


def tree_size(path: Path) -> int:
    """Bytes under `path`, links not followed."""
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    total = 0
    for folder, _dirs, names in os.walk(path):
        for name in names:
            with suppress(OSError):
                total += (Path(folder) / name).lstat().st_size
    return total


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _linked_note(folder: Path) -> str:
    try:
        facts = json.loads((folder / LINKED_MARKER).read_text(encoding="utf-8"))
        return f"job {facts['job_id']} task {facts['task_id']} years {facts['years']}"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def plan_clean(settings: WorkerSettings, before: datetime) -> list[Removal]:
    """What `winjobs clean data` removes on this worker (nothing is changed here)."""
    busy = running_worker(settings.data_dir) is not None
    removals: list[Removal] = []
    roots = dict.fromkeys([settings.tasks_dir, settings.data_dir / "tasks"])
    for root in roots:
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            if not folder.is_dir() or folder.is_symlink():
                continue
            if is_linked(folder):
                when = _modified(folder / LINKED_MARKER)
                if when < before:
                    note = _linked_note(folder)
                    removals.append(Removal(folder, "linked run", when, tree_size(folder), note))
            elif not busy and (when := _modified(folder)) < before:
                removals.append(Removal(folder, "task folder", when, tree_size(folder)))
    if settings.cache_dir.is_dir():
        for archive in sorted(settings.cache_dir.iterdir()):
            if archive.is_file() and (when := _modified(archive)) < before:
                removals.append(Removal(archive, "cached archive", when, archive.stat().st_size))
    return removals


def apply_clean(removals: list[Removal]) -> int:
    """Remove what `plan_clean` found; returns the bytes freed."""
    freed = 0
    for removal in removals:
        if removal.path.is_dir():
            remove_tree(removal.path)
        else:
            removal.path.unlink(missing_ok=True)
        if not removal.path.exists():
            freed += removal.size
    return freed

"""Keep the worker's disk in check: task folders, the archive cache, free space.

A worker runs for months; every task unpacks a study and writes a run folder, and every
new study adds an archive to the cache. Without these rules the disk fills and every
later task fails somewhere in the middle of a solver run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import sys
import threading
from collections import deque
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from winjobs.ops.sizes import readable_size
from winjobs.wire import LOW_DISK_REASON
from winjobs.worker.runner import kill_recorded_solver, kill_solvers_working_in

log = logging.getLogger(__name__)

#: Name of the file, in a task folder, recording the solver's process (see runner).
SOLVER_PID_FILE = "solver.pid"
#: Marks a task folder whose run the driver's merged output links to (shared mode,
#: collect: link): disk hygiene leaves it alone; `winjobs clean data` removes it.
LINKED_MARKER = ".winjobs-linked"
#: What a linked task folder keeps: the study folder (down to its run) and the solver log.
_LINKED_KEEP = frozenset({"study", "solver.log", LINKED_MARKER})


def is_linked(folder: Path) -> bool:
    return (folder / LINKED_MARKER).is_file()


def free_disk_bytes(path: Path) -> int:
    """Free bytes on the disk holding `path` (or its nearest existing parent)."""
    probe = path.resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def low_disk_reason(path: Path, minimum: int, needed: int = 0) -> str | None:
    """Why a task must be refused for lack of disk, or None when there is room.

    `needed` is what the task will add on top (e.g. an archive not cached yet).
    """
    free = free_disk_bytes(path)
    if free - needed >= minimum:
        return None
    return (
        f"{LOW_DISK_REASON}: {readable_size(free)} free at {path}, "
        f"{readable_size(needed)} needed for the task and {readable_size(minimum)} kept free"
    )


def _clear_readonly(func: Callable[..., Any], path: str, _exc: BaseException) -> None:
    """Windows refuses to delete read-only files (studies copied from shares often are)."""
    Path(path).chmod(stat.S_IWRITE)
    func(path)


def remove_tree(path: Path) -> None:
    """Delete a folder; a failure is logged, not raised (it is retried at the next start)."""
    if not path.exists():
        return
    try:
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=_clear_readonly)
        else:
            shutil.rmtree(
                path, onerror=lambda func, name, info: _clear_readonly(func, name, info[1])
            )
    except OSError as exc:
        log.warning("could not delete %s: %s", path, exc)


def touch(path: Path) -> None:
    """Mark a cached archive as just used (the LRU order is the files' modification time)."""
    with contextlib.suppress(FileNotFoundError):
        os.utime(path)


def evict_archives(
    cache_dir: Path, max_total_bytes: int, keep: Collection[Path] = ()
) -> list[Path]:
    """Delete least recently used archives until the cache fits `max_total_bytes`.

    Archives in `keep` (the one a task is about to use) are never deleted; neither are
    partial downloads, which a later claim resumes. Returns the deleted paths.
    """
    if not cache_dir.is_dir():
        return []
    kept = {path.resolve() for path in keep}
    archives = sorted(
        (path for path in cache_dir.glob("*.zip") if path.is_file()),
        key=lambda path: path.stat().st_mtime,
    )
    total = sum(path.stat().st_size for path in cache_dir.iterdir() if path.is_file())
    deleted: list[Path] = []
    for path in archives:
        if total <= max_total_bytes:
            break
        if path.resolve() in kept:
            continue
        size = path.stat().st_size
        try:
            path.unlink()
        except OSError as exc:
            log.warning("could not evict cached archive %s: %s", path, exc)
            continue
        total -= size
        deleted.append(path)
        log.info("evicted cached study archive %s (%s)", path.name, readable_size(size))
    return deleted


class TaskFolders:
    """Task folders, from creation to deletion.

    A folder is retired once its task is settled (output acknowledged by the driver,
    failure reported, or task dropped). The last `keep_last` retired folders stay for
    inspection; older ones are deleted. Folders left by a previous run of the worker
    belong to attempts whose leases have expired since: `clean_stale` deletes them.
    """

    def __init__(self, root: Path, keep_last: int = 0) -> None:
        self.root = root
        self.keep_last = keep_last
        self._retired: deque[Path] = deque()
        self._lock = threading.Lock()  # attempts are retired from the finishing thread

    def new(self, name: str) -> Path:
        """A fresh, empty folder for one attempt of a task."""
        folder = self.root / name
        remove_tree(folder)
        folder.mkdir(parents=True)
        return folder

    def retire(self, folder: Path) -> None:
        with self._lock:
            self._retired.append(folder)
            expired = [self._retired.popleft() for _ in range(len(self._retired) - self.keep_last)]
        for old in expired:
            remove_tree(old)

    def keep_linked(self, folder: Path, run: Path, note: str) -> None:
        """Keep only the run of a task folder, which the driver's merged output links to
        (shared mode, collect: link): the study's input copy goes, the marker (holding
        `note`) keeps the folder out of `retire` and `clean_stale`."""
        (folder / LINKED_MARKER).write_text(note, encoding="utf-8")
        keep = run.relative_to(folder).parts
        level = folder
        for depth, name in enumerate(keep):
            for child in list(level.iterdir()):
                wanted = child.name == name or (depth == 0 and child.name in _LINKED_KEEP)
                if not wanted:
                    if child.is_dir() and not child.is_symlink():
                        remove_tree(child)
                    else:
                        child.unlink(missing_ok=True)
            level = level / name

    def clean_stale(self) -> list[Path]:
        """Delete folders left by an earlier run, first killing a solver still running in
        one (a worker killed with kill -9 cannot take its solver down with it). Folders
        the driver links to (`keep_linked`) stay."""
        if not self.root.is_dir():
            return []
        stale = [path for path in self.root.iterdir() if path.is_dir() and not is_linked(path)]
        for path in stale:
            if kill_recorded_solver(path / SOLVER_PID_FILE):
                log.warning("killed a solver left running in %s", path)
        for path in kill_solvers_working_in(stale):  # killed before its pid was recorded
            log.warning("killed a solver left running in %s (no pid recorded)", path)
        for path in stale:
            remove_tree(path)
        return stale

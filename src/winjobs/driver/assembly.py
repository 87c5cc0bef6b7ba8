"""The assembly's heavy work (merge, result zip) in a process of its own.

A merge parses and pools every mc-all table of every task, and the result zip deflates
the whole run: seconds of CPU in Python and numpy. In the driver's process they held the
GIL against the event loop answering claims and the store's writer committing them, so
every claim waited behind each assembly. `ProcessAssembler` runs them in one child
process instead (assemblies are one at a time, as before), and the driver's threads only
wait for its answer.

The child is started with the driver, in the background (spawn: the one start method
Windows has, and no copy of the driver's threads, sockets and database connections). It
holds numpy and pandas (about 70 MB), so it ends once no assembly has come for
`idle_s` (the setting `assembly_idle_s`): a driver on an office PC gives that memory
back between jobs, and the next assembly starts a new child (a second or two). It ends
with the driver too: at its stop, or within `WATCH_S` of its death (`ParentWatch`), so
that a driver restarted after a kill -9 does not find an orphan still writing the
assembly it redoes. A child that dies (killed, out of memory) fails the assembly it was
running with the reason; the next assembly starts a new child.

The functions run there are this module's (`merge_task_runs`, `link_task_runs`) and
`pack_folder`: plain paths in, files out, nothing of the driver's state; the child imports
only them (the merge, numpy), not the driver's database or web layers.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Protocol, TypeVar

from winjobs.antares.output import first_link
from winjobs.errors import MergeError, WinjobsError
from winjobs.parentwatch import FORCED_EXIT, ParentWatch

T = TypeVar("T")

#: how often the child checks that the driver still runs
WATCH_S = 0.2


class AssemblyCrashed(WinjobsError):
    """The assembly process ended while it was building an output."""


class Assembler(Protocol):
    """Runs an assembly step and returns its result (or raises its exception)."""

    def start(self) -> None: ...

    def run(self, step: Callable[..., T], *args: object, **kwargs: object) -> T: ...

    def close(self, wait: bool = True) -> None: ...


class InlineAssembler:
    """The step in the calling thread: for tests of the collector's logic, where a child
    process per test would cost more than the test."""

    def start(self) -> None:
        return None

    def run(self, step: Callable[..., T], *args: object, **kwargs: object) -> T:
        return step(*args, **kwargs)

    def close(self, wait: bool = True) -> None:
        return None


class ProcessAssembler:
    """The step in the driver's assembly process (module docstring)."""

    def __init__(self, idle_s: float | None = None) -> None:
        self.idle_s = idle_s  #: the child ends after this long without a step (None: never)
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._busy = 0  #: steps submitted and not finished
        self._idle_timer: threading.Timer | None = None

    def start(self) -> None:
        """Start the child now, in the background (its Python and the merge's imports
        take a second or two), so that the first job's assembly does not wait for it."""
        self._enter().submit(_warm_up).add_done_callback(lambda _: self._leave())

    def run(self, step: Callable[..., T], *args: object, **kwargs: object) -> T:
        pool = self._enter()
        try:
            return pool.submit(step, *args, **kwargs).result()
        except BrokenProcessPool:
            self._forget(pool)
            raise AssemblyCrashed(
                "the driver's assembly process ended during the assembly (killed, or out of "
                "memory?); retry the job to assemble it again"
            ) from None
        finally:
            self._leave()

    def close(self, wait: bool = True) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            self._cancel_idle_timer()
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)

    def _enter(self) -> ProcessPoolExecutor:
        """The child for one more step (a new one if it had ended)."""
        with self._lock:
            self._busy += 1
            self._cancel_idle_timer()
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_end_with_parent,
                    initargs=(os.getpid(),),
                )
            return self._pool

    def _leave(self) -> None:
        """One step less; the last one arms the idle timer."""
        with self._lock:
            self._busy -= 1
            if self._busy or self._pool is None or self.idle_s is None:
                return
            timer = threading.Timer(self.idle_s, self._end_if_idle, args=(self._pool,))
            timer.daemon = True
            timer.name = "winjobs-assembly-idle"
            self._idle_timer = timer
            timer.start()

    def _end_if_idle(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._busy or self._pool is not pool:
                return  # a step came meanwhile, or the child was already replaced
            self._pool, self._idle_timer = None, None
        pool.shutdown(wait=True)

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _forget(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)


def _warm_up() -> None:
    """Import what merges use beyond this module (pandas reads the large tables)."""
    importlib.import_module("pandas")


def _end_with_parent(parent_pid: int) -> None:
    """In the child: exit at once when the driver is gone."""
    ParentWatch(
        parent_pid, on_gone=lambda: os._exit(FORCED_EXIT), interval_s=WATCH_S, grace_s=0
    ).start()


def merge_task_runs(study: Path, runs: list[Path], out: Path) -> None:
    """One run folder from the tasks' runs; their mc-ind years are moved (HTTP mode)."""
    from winjobs.antares.merge import merge_runs  # numpy: in the assembly process only

    merge_runs(study, runs, out, mc_ind="move")


def link_task_runs(study: Path, runs: list[Path], out: Path, local_tasks: Path) -> None:
    """One run folder whose mc-ind years link to the tasks' runs (shared mode, collect:
    link); years of zipped runs (uploaded by HTTP workers) are extracted, and those of
    runs kept in the driver's own `local_tasks` (copied from a share) moved in, since
    that folder goes once the job is assembled."""
    from winjobs.antares.merge import merge_runs  # numpy: in the assembly process only

    inside = local_tasks.resolve()
    for run in runs:
        if run.is_dir() and not run.resolve().is_relative_to(inside):
            _refuse_links(run)
    merge_runs(study, runs, out, mc_ind="link")
    for link in [*out.glob("*/mc-ind/*"), *out.glob("optimization/week-by-week/year_*.txt")]:
        if not link.is_symlink():
            continue
        target = link.readlink()
        if target.is_relative_to(inside):
            link.unlink()
            shutil.move(str(target), str(link))


def _refuse_links(run: Path) -> None:
    """A run on a worker's share was checked for links when it was reported; one added
    since (the share is the worker's) must not make the merge read the driver's own files
    into the job's output."""
    if (link := first_link(run)) is not None:
        raise MergeError(
            f"{run} holds a symbolic link or junction ({link}), added after the run was "
            "reported: the driver does not follow links out of a worker's run; remove it, then "
            "retry the job"
        )

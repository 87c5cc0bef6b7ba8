"""End a process once the process that started it is gone (`--parent-pid PID`).

`winjobs demo` and the test harness start drivers and workers detached from the
terminal (a session or process group of their own, so that Ctrl-C reaches only the
parent, which then stops them in order). The price: when the parent itself dies hard
(SIGKILL, a CI time-out, a closed console on Windows), nothing ends them, and they run
on for hours. Given `--parent-pid`, a daemon thread checks every second that the parent
still runs and, once it is gone, asks the process to stop the way a stop signal would;
if that has not ended the process `grace_s` later, it exits at once.

psutil tells a process apart from a later one that reused its pid (by creation time),
on Windows as on POSIX; a parent that is a zombie (dead, not yet reaped) is gone.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import psutil

log = logging.getLogger(__name__)

#: exit status of a process its parent-watch ended by force
FORCED_EXIT = 3


def parent_alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:  # gone between the two calls
        return False


class ParentWatch:
    """Watches `pid`: `on_gone()` once it is gone (at once if it already is), then
    `exit_now(FORCED_EXIT)` if this process still runs `grace_s` later. `stop()` ends
    the watch (a process that stops on its own)."""

    def __init__(
        self,
        pid: int,
        on_gone: Callable[[], None],
        interval_s: float = 1.0,
        grace_s: float = 60.0,
        exit_now: Callable[[int], object] = os._exit,
    ) -> None:
        self.pid = pid
        self._on_gone = on_gone
        self._interval_s = interval_s
        self._grace_s = grace_s
        self._exit_now = exit_now
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"parent-watch-{pid}")
        self._thread.daemon = True
        try:
            self._parent: psutil.Process | None = psutil.Process(pid)
        except psutil.Error:
            self._parent = None

    def start(self) -> ParentWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()

    def _watch(self) -> None:
        while self._parent is not None and parent_alive(self._parent):
            if self._stopped.wait(self._interval_s):
                return
        log.warning("the process that started this one (pid %d) is gone: stopping", self.pid)
        self._on_gone()
        if not self._stopped.wait(self._grace_s):
            log.error("still running %.0f s after its parent went: exiting now", self._grace_s)
            self._exit_now(FORCED_EXIT)

"""Two-stage shutdown on Ctrl-C (and SIGTERM on POSIX, CTRL_BREAK on Windows).

First signal: drain. Claim nothing more, let the running task finish and report, exit 0.
Second signal: abort. Kill the solver, hand the task back to the driver, exit 0.

Signal handlers only set flags, with one exception: a blocking call of the main thread
marked `interruptible` (a registration, a download the operator no longer wants) is cut
short by raising `Interrupted` in it. An idle worker's long-poll claim is not cut that
way: the agent waits for it beside the main thread and asks the driver to end it, so a
task the driver hands out at that moment comes back instead of being lost (see
`claiming`); on Windows a signal could not cut a socket read short anyway.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from winjobs.worker.runner import StopReason, StopRequest

log = logging.getLogger(__name__)


class Interrupted(BaseException):
    """Raised by the signal handler inside an interruptible wait (an idle claim, or a
    transfer after the second signal). A BaseException so no `except Exception` eats it."""


class Shutdown:
    """The worker's stop state, shared by the signal handler and the agent loop."""

    def __init__(self) -> None:
        self.drain = threading.Event()  #: claim nothing more
        self.abort = threading.Event()  #: kill the running task and hand it back
        # Reentrant: the handler runs in the main thread, maybe while it holds the lock.
        self._lock = threading.RLock()
        self._task_stops: set[StopRequest] = set()
        self._interruptible_until_drain = False
        self._interruptible_until_abort = False

    def request(self) -> None:
        """One more stop request (a signal, or a test): drain first, then abort."""
        with self._lock:
            if not self.drain.is_set():
                self.drain.set()
                log.warning(
                    "stopping: no new tasks; the running one finishes (Ctrl-C again to kill it)"
                )
                if self._interruptible_until_drain:
                    raise Interrupted
                return
            self.abort.set()
            log.warning("stopping now: killing the running task and handing it back")
            for stop in self._task_stops:
                stop.request(StopReason.SHUTDOWN)
            if self._interruptible_until_abort or self._interruptible_until_drain:
                raise Interrupted

    def stop_now(self) -> None:
        """Drain and abort at once, from any thread (the parent process is gone): the
        running task is killed and handed back. Unlike `request`, never raises
        `Interrupted` (that works only in the main thread, where signals land); the agent
        sees the flags at its next step."""
        with self._lock:
            self.drain.set()
            if self.abort.is_set():
                return
            self.abort.set()
            log.warning("stopping now: killing the running task and handing it back")
            for stop in self._task_stops:
                stop.request(StopReason.SHUTDOWN)

    def track(self, stop: StopRequest) -> None:
        """From claim to report, an abort also stops this attempt (running or reporting)."""
        with self._lock:
            self._task_stops.add(stop)
            if self.abort.is_set():
                stop.request(StopReason.SHUTDOWN)

    def untrack(self, stop: StopRequest) -> None:
        with self._lock:
            self._task_stops.discard(stop)

    @contextmanager
    def interruptible(self, *, on_drain: bool) -> Iterator[None]:
        """A blocking call the next signal may cut short with `Interrupted`.

        `on_drain=True` (registration): the first signal interrupts it; otherwise only
        the abort does (a download the operator no longer wants).

        Only in the main thread, where signal handlers run: raised there, `Interrupted`
        would hit whatever the main thread is doing, not this call. A background call
        (an upload) is cut short by its attempt's stop request instead.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        with self._lock:
            if (on_drain and self.drain.is_set()) or self.abort.is_set():
                raise Interrupted
            if on_drain:
                self._interruptible_until_drain = True
            else:
                self._interruptible_until_abort = True
        try:
            yield
        finally:
            with self._lock:
                self._interruptible_until_drain = False
                self._interruptible_until_abort = False


def _stop_signals() -> list[int]:
    """Ctrl-C everywhere; SIGTERM on POSIX (service managers, kill); CTRL_BREAK on
    Windows (there, SIGTERM is never delivered by the system)."""
    if sys.platform == "win32":
        return [signal.SIGINT, signal.SIGBREAK]
    return [signal.SIGINT, signal.SIGTERM]


@contextmanager
def signals_to(shutdown: Shutdown) -> Iterator[None]:
    """Route the stop signals to `shutdown` (main thread only), restoring them after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        shutdown.request()

    previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}
    for signum in _stop_signals():
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old if old is not None else signal.SIG_DFL)

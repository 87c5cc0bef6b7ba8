"""Stop requests: SIGTERM/SIGINT (and CTRL_BREAK on Windows) end a run with status 0.

That is what the real solver does (its handlers log `[signal] received signal SIGTERM.
Exiting...`, finalise the writer and `exit(EXIT_SUCCESS)`), and it is the trap the
worker must not fall into: an exit status of 0 does not mean the run is complete. The
handlers only record the request; the run loop notices it within a fraction of a second.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType


class StopRequest:
    """Set by a signal handler (or by the partial-exit fault); read by the run loop."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def request(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


def _stop_signals() -> list[tuple[signal.Signals, str]]:
    found = [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")]
    breaker = getattr(signal, "SIGBREAK", None)  # Windows: CTRL_BREAK_EVENT
    if breaker is not None:
        # The real solver maps CTRL_BREAK_EVENT to its SIGTERM handler.
        found.append((breaker, "SIGTERM"))
    return found


def install_stop_handlers(stop: StopRequest) -> Callable[[], None]:
    """Route the stop signals to `stop` (main thread only, as Python requires); returns
    the function that puts the previous handlers back (a run inside a test process must
    not leave its handlers behind)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = []
    for number, name in _stop_signals():

        def handler(_signum: int, _frame: FrameType | None, name: str = name) -> None:
            stop.request(name)

        previous.append((number, signal.signal(number, handler)))

    def restore() -> None:
        for number, old in previous:
            signal.signal(number, old)

    return restore


def ignore_stop_signals() -> None:
    """A hung solver does not react to polite requests: only a kill ends it."""
    if threading.current_thread() is not threading.main_thread():
        return
    for number, _name in _stop_signals():
        signal.signal(number, signal.SIG_IGN)

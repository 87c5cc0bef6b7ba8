"""A blocking call (the long-poll claim) run beside the main thread, which stays free to
notice a stop request while it waits.

Why not let the signal handler cut the claim short (by raising in the main thread)?
- On Windows it cannot: Ctrl-C and CTRL_BREAK do not interrupt a socket read, and the
  Python handler only runs once the read returns, up to a whole long-poll later.
- Where it can (POSIX), it abandons a request the driver may be answering with a task
  at that very moment: that task then stays leased to a worker that is gone until its
  lease expires, and counts as a failure.
So the main thread waits in short slices (a signal handler runs between two of them, on
every system), and a stop makes the agent ask the driver to end the claim (a draining
claim) and take whatever the claim brings back, to hand it back if it is a task.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

#: How often the waiting main thread looks at the stop flag (and lets signal handlers run).
SLICE_S = 0.1


class PendingCall(Generic[T]):
    """`call()` running in a daemon thread; its result or exception kept for the caller."""

    def __init__(self, call: Callable[[], T], name: str) -> None:
        self._call = call
        self._done = threading.Event()
        self._outcome: tuple[T] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._outcome = (self._call(),)
        except BaseException as exc:  # handed to the caller by `result`
            self._error = exc
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, stop: threading.Event | None = None, timeout: float | None = None) -> bool:
        """Wait until the call ends, `stop` is set or `timeout` s passed; True if it ended.

        In slices rather than one blocking wait: on Windows a thread blocked on a lock
        does not run the signal handlers (Ctrl-C) until the wait is over.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._done.is_set():
            if stop is not None and stop.is_set():
                break
            slice_s = SLICE_S
            if deadline is not None:
                slice_s = min(slice_s, deadline - time.monotonic())
                if slice_s <= 0:
                    break
            self._done.wait(slice_s)
        return self._done.is_set()

    def result(self) -> T:
        """What the call returned, once it ended; re-raises what it raised."""
        if self._error is not None:
            raise self._error
        if self._outcome is None:
            raise RuntimeError(f"{self._thread.name} has not ended yet")
        return self._outcome[0]

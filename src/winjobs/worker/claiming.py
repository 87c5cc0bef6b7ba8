"""Claims that a stop request ends at once, losing no task: the long-poll runs beside the
main thread, which stays free to notice the stop while it waits.

Why not let the signal handler cut the claim short (by raising in the main thread)?
- On Windows it cannot: Ctrl-C and CTRL_BREAK do not interrupt a socket read, and the
  Python handler only runs once the read returns, up to a whole long-poll later.
- Where it can (POSIX), it abandons a request the driver may be answering with a task
  at that very moment: that task then stays leased to a worker that is gone until its
  lease expires, and counts as a failure. (And the driver kept the abandoned claim
  waiting, to lease the next job's task to the gone worker.)
So the main thread waits in short slices (a signal handler runs between two of them, on
every system); on a stop it asks the driver to end the claim (a draining claim does),
takes whatever the claim brings back, and hands back a task if that is what came.
The owner coming back (worker/owner.py) ends a pending claim the same way, with a paused
claim instead of a draining one: the worker stays, it just takes no work for now.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from winjobs.client import ClientError, DriverClient
from winjobs.wire import ClaimRequest, TaskAssignment
from winjobs.worker.reports import Failure, Reporter
from winjobs.worker.retry import Backoff, RetryAborted, retry_transient
from winjobs.worker.runner import StopReason, StopRequest
from winjobs.worker.shutdown import Shutdown

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How often the waiting main thread looks at the stop flag (and lets signal handlers run).
SLICE_S = 0.1
#: How long a stopping worker waits for the driver to answer its pending claim.
CLAIM_END_WAIT_S = 5.0


class Flag(Protocol):
    def is_set(self) -> bool: ...


class Check:
    """A flag computed by a function."""

    def __init__(self, test: Callable[[], bool]) -> None:
        self.is_set = test


class ClaimMode(StrEnum):
    WORK = "work"  #: a long-poll for a task
    PAUSED = "paused"  #: the owner's policy lets it take no work now: answered at once
    DRAINING = "draining"  #: the worker stops: takes no more work


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

    def wait(self, stop: Flag | None = None, timeout: float | None = None) -> bool:
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


class Claimer:
    """One worker's claims: `claim` long-polls, `announce` says it pauses or stops."""

    def __init__(
        self,
        client: DriverClient,
        shutdown: Shutdown,
        backoff: Backoff,
        reporter: Reporter,
        request: Callable[[ClaimMode], ClaimRequest],
        paused: Callable[[], bool] = lambda: False,
    ) -> None:
        self.client = client
        self.shutdown = shutdown
        self.backoff = backoff
        self.reporter = reporter
        self.request = request  #: mode -> the claim to send
        self.paused = paused  #: set while the owner's policy lets the worker take no work

    def claim(self) -> TaskAssignment | None:
        """One claim, retried while the driver is away; None when no work came within the
        wait, or on a stop request or a pause (a task that came with it anyway is handed
        back)."""
        pending = PendingCall(
            lambda: retry_transient(
                lambda: self.client.claim(self.request(ClaimMode.WORK)),
                what="claim",
                backoff=self.backoff,
                abort=self.shutdown.drain,
            ),
            name="claim",
        )
        if not pending.wait(stop=Check(lambda: self.shutdown.drain.is_set() or self.paused())):
            self._end(pending)
            if not pending.done:
                return None  # the driver keeps it: its lease brings back a task, if any
        try:
            assignment = pending.result()
        except (ClientError, RetryAborted):
            if self.shutdown.drain.is_set():
                return None
            raise
        if assignment is not None and self.shutdown.drain.is_set():
            self.hand_back(assignment, StopReason.SHUTDOWN.value)
            return None
        return assignment

    def announce(self, mode: ClaimMode) -> None:
        """Tell the driver this worker takes no work for now (paused) or no more
        (draining); it also ends the worker's pending claim, if any."""
        try:
            self.client.claim(self.request(mode))
        except ClientError as exc:
            log.info("could not tell the driver this worker is %s: %s", mode.value, exc)

    def announce_draining(self) -> None:
        self.announce(ClaimMode.DRAINING)

    def _end(self, pending: PendingCall[TaskAssignment | None]) -> None:
        """Ask the driver to answer the pending claim now, again each second: a claim
        that reached the driver after the first request (both were on the wire at once)
        is ended by the next one. Draining when the worker stops, else paused."""
        deadline = time.monotonic() + CLAIM_END_WAIT_S
        while (left := deadline - time.monotonic()) > 0:
            self.announce(ClaimMode.DRAINING if self.shutdown.drain.is_set() else ClaimMode.PAUSED)
            if pending.wait(timeout=min(1.0, left)):
                return
        log.warning(
            "the driver did not end this worker's pending claim within %.0f s: stopping anyway",
            CLAIM_END_WAIT_S,
        )

    def hand_back(self, assignment: TaskAssignment, reason: str) -> None:
        """Release a task that came with a claim answered after a stop request or a pause
        (not counted as a failure). Tried once (its stop is set already): the lease
        brings the task back otherwise."""
        log.info(
            "task %d came with the last claim: handing it back (%s)", assignment.task_id, reason
        )
        stopped = StopRequest()
        stopped.request(StopReason.SHUTDOWN)
        self.reporter.send(assignment, Failure(reason, release=True), stopped)

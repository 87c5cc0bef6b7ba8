"""Wake long-polling claims when work may have appeared.

Claims wait in the event loop (async), not in a thread: 50 workers long-polling for 30 s
must not hold 50 threads of the pool that serves every blocking request. Work appears
from threads (submit, retry, the sweeper re-queueing), so `notify` is thread-safe and
hands the wake-up to each waiter's loop with `call_soon_threadsafe`.

A generation counter closes the lost-wake-up window: a claimer reads the generation,
tries the database, and only sleeps if nothing was notified in between.

Waiting claims are also ended without work: all of them when the driver shuts down
(`close`: else uvicorn waits its graceful timeout for them, then cancels them with a
traceback each), and one worker's when that worker says it is draining (`end_claims`:
a worker asked to stop while idle must not wait for its long-poll, and a claim it left
behind must not take a task for a worker that is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

_Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Event]


class WorkSignal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._waiters: dict[_Waiter, int | None] = {}  #: waiter -> its worker id
        self._closed = False
        self._ends: dict[int, int] = {}  #: worker id -> how many times its claims were ended

    @property
    def generation(self) -> int:
        return self._generation

    def waiting(self, worker_id: int | None = None) -> int:
        """How many claims wait for work now (of one worker, or of all): `/metrics`
        shows it, and tests wait on it instead of sleeping."""
        with self._lock:
            return sum(1 for w in self._waiters.values() if worker_id is None or w == worker_id)

    def notify(self) -> None:
        """Something claimable may exist now: wake every waiting claim."""
        self._wake(lambda worker_id: True)

    def close(self) -> None:
        """The driver is stopping: end every waiting claim now, and every later one at once."""
        with self._lock:
            self._closed = True
        self._wake(lambda worker_id: True)

    def end_claims(self, worker_id: int) -> None:
        """This worker is draining: end its waiting claims (they take no task)."""
        with self._lock:
            self._ends[worker_id] = self._ends.get(worker_id, 0) + 1
        self._wake(lambda waiting: waiting == worker_id)

    def ended(self, worker_id: int) -> Callable[[], bool]:
        """For a claim starting now: a check that says when it must end without work
        (the driver closed, or the worker ended its claims since)."""
        with self._lock:
            ends = self._ends.get(worker_id, 0)

        def check() -> bool:
            with self._lock:
                return self._closed or self._ends.get(worker_id, 0) != ends

        return check

    def _wake(self, which: Callable[[int | None], bool]) -> None:
        # The generation moves on every wake-up, so a claim between its check and its
        # wait (see `wait`) does not sleep through it.
        with self._lock:
            self._generation += 1
            waiters = [waiter for waiter, worker_id in self._waiters.items() if which(worker_id)]
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # a closed loop: its waiter is gone
                loop.call_soon_threadsafe(event.set)

    async def wait(self, since: int, timeout: float, worker_id: int | None = None) -> bool:
        """Sleep until a wake-up after generation `since`, or `timeout` s; True if woken."""
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            if self._generation != since:
                return True
            self._waiters[waiter] = worker_id
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.pop(waiter, None)

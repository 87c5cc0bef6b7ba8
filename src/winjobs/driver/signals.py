"""Wake long-polling claims when work may have appeared.

Claims wait in the event loop (async), not in a thread: 50 workers long-polling for 30 s
must not hold 50 threads of the pool that serves every blocking request. Work appears
from threads (submit, retry, the sweeper re-queueing), so `notify` is thread-safe and
hands the wake-up to each waiter's loop with `call_soon_threadsafe`.

A generation counter closes the lost-wake-up window: a claimer reads the generation,
tries the database, and only sleeps if nothing was notified in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class WorkSignal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def generation(self) -> int:
        return self._generation

    def notify(self) -> None:
        """Something claimable may exist now: wake every waiting claim."""
        with self._lock:
            self._generation += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # a closed loop: its waiter is gone
                loop.call_soon_threadsafe(event.set)

    async def wait(self, since: int, timeout: float) -> bool:
        """Sleep until a notify after generation `since`, or `timeout` s; True if notified."""
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            if self._generation != since:
                return True
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(waiter)

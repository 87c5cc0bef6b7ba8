"""The sweeper: finds tasks whose lease ran out and puts their years back in the queue.

A worker that dies, hangs, or loses its network stops heartbeating; its lease expires and
the sweeper counts a failed attempt (the same years dying max_attempts times fail the
job: they may be what kills the worker). Nothing trusts a worker to say it is gone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from winjobs.driver.store import Store, TaskEvent

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(
        self,
        store: Store,
        interval_s: float,
        max_attempts: int,
        on_events: Callable[[list[TaskEvent]], None],
    ) -> None:
        self.store = store
        self.interval_s = interval_s
        self.max_attempts = max_attempts
        self.on_events = on_events
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep_once(self) -> list[TaskEvent]:
        events = self.store.requeue_expired(self.max_attempts)
        if events:
            self.on_events(events)
        return events

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="winjobs-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sweep_once()
            except Exception:  # a database hiccup must not kill the sweeper for good
                log.exception("lease sweep failed; trying again in %.1f s", self.interval_s)

"""The sweeper: finds tasks whose lease ran out and puts their years back in the queue.

A worker that dies, hangs, or loses its network stops heartbeating; its lease expires and
the sweeper records a failed attempt, the machine's (`failure_policy`: not counted while
another worker can run the task; the same years dying on every worker that can run
them do fail the job: they may be what kills the workers). Nothing trusts a worker to
say it is gone. The same pass gives a queued task back to the workers that failed it
when nobody else can run it any more.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from winjobs.driver.store import FailureRules, Store, TaskEvent

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(
        self,
        store: Store,
        interval_s: float,
        rules: FailureRules,
        on_events: Callable[[list[TaskEvent]], None],
    ) -> None:
        self.store = store
        self.interval_s = interval_s
        self.rules = rules
        self.on_events = on_events
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep_once(self) -> list[TaskEvent]:
        events = self.store.requeue_expired(self.rules)
        events += self.store.reopen_stranded(self.rules)
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

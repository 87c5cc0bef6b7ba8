"""The sweeper: finds tasks whose lease ran out and puts their years back in the queue.

A worker that dies, hangs, or loses its network stops heartbeating; its lease expires and
the sweeper records a failed attempt, the machine's (`failure_policy`: not counted while
another worker can run the task; the same years dying on every worker that can run
them do fail the job: they may be what kills the workers). Nothing trusts a worker to
say it is gone. The same pass gives a queued task back to the workers that failed it
when nobody else can run it any more.
"""

from __future__ import annotations

from collections.abc import Callable

from winjobs.driver.metrics import TaskStats
from winjobs.driver.periodic import Periodic
from winjobs.driver.store import FailureRules, Store, TaskEvent


class Sweeper(Periodic):
    name = "winjobs-sweeper"

    def __init__(
        self,
        store: Store,
        interval_s: float,
        rules: FailureRules,
        on_events: Callable[[list[TaskEvent]], None],
        stats: TaskStats | None = None,
    ) -> None:
        super().__init__(interval_s)
        self.store = store
        self.rules = rules
        self.on_events = on_events
        self.stats = stats or TaskStats()

    def sweep_once(self) -> list[TaskEvent]:
        events = self.store.requeue_expired(self.rules)
        for _ in events:
            self.stats.failure("lease_expired")
        events += self.store.reopen_stranded(self.rules)
        if events:
            self.on_events(events)
        return events

    def tick(self) -> object:
        return self.sweep_once()

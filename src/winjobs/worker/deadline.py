"""A worker that will be stopped from outside at a known moment: stop claiming in time.

A batch system (Slurm, docs/slurm.md) kills a pilot worker at its job's time limit. The
worker is told that moment (`deadline`) and a `drain_margin_s`; the rule is simple:

    no task is claimed after `deadline - drain_margin_s`; a task claimed before is run
    to its end (so the margin must cover the longest task).

Why not "claim only the tasks that fit"? A worker cannot know how long its next task
takes: the driver cuts the chunk at the claim, and a year's run time depends on the
study, the year and the machine. The margin is the operator's bound on one task; the
worker logs when a task ran longer than it (the bound was wrong). A long-poll claim is
also cut at the drain time, so a task can never arrive after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

log = logging.getLogger(__name__)


class DrainClock:
    """When a worker with a deadline stops claiming; inert without a deadline."""

    def __init__(
        self, deadline: datetime | None, margin_s: float, clock: Callable[[], datetime]
    ) -> None:
        self.deadline = deadline
        self.margin_s = margin_s
        self.clock = clock
        self._said = False

    @property
    def drain_at(self) -> datetime | None:
        if self.deadline is None:
            return None
        return self.deadline - timedelta(seconds=self.margin_s)

    def announce(self) -> None:
        """Log the rule once at start-up, with the moments it gives."""
        if self.deadline is None or self.drain_at is None:
            return
        log.info(
            "deadline %s: no task is claimed after %s (drain margin %.0f s); a task "
            "claimed before then runs to its end",
            _moment(self.deadline),
            _moment(self.drain_at),
            self.margin_s,
        )

    def seconds_left(self) -> float | None:
        """Seconds until the drain time (negative once past it); None without deadline."""
        drain_at = self.drain_at
        return None if drain_at is None else (drain_at - self.clock()).total_seconds()

    def reached(self) -> bool:
        """True once no new task may be claimed (logged the first time)."""
        left = self.seconds_left()
        if left is None or left > 0:
            return False
        if not self._said:
            self._said = True
            log.info(
                "drain time reached (deadline %s minus %.0f s): claiming no more tasks",
                _moment(self.deadline),
                self.margin_s,
            )
        return True

    def claim_wait_s(self, wait_s: float) -> float:
        """A long-poll never outlasts the drain time."""
        left = self.seconds_left()
        return wait_s if left is None else max(0.0, min(wait_s, left))

    def check_task(self, task_id: int, seconds: float) -> None:
        """Warn when a task ran longer than the margin: one claimed just before the
        drain time could then still be running at the deadline, and be killed."""
        if self.deadline is not None and seconds > self.margin_s:
            log.warning(
                "task %d ran %.0f s, longer than the drain margin of %.0f s: a task "
                "claimed just before the drain time may not end before the deadline "
                "(raise drain_margin_s)",
                task_id,
                seconds,
                self.margin_s,
            )


def _moment(when: datetime | None) -> str:
    return when.isoformat(timespec="seconds") if when is not None else "-"

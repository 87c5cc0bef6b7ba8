"""Pools of pilot workers in batch systems (Slurm, docs/slurm.md): their managers' reports
(kept by `pool.PoolService`, listed with the workers).

A pool manager (`winjobs slurm`) runs where the batch system's commands work, often not
on the driver's machine, and only it can see pilots still PENDING in the batch queue (a
pilot becomes a worker of the driver once it runs). So it sends the driver its view each
round and the driver shows it beside the workers (`winjobs workers`, the dashboard).

Kept in memory only: a report is a snapshot the manager sends again every `interval_s`,
so after a driver restart the next round brings it back; nothing in it is needed to
schedule anything. A report older than three intervals is shown as stale (the manager
may be down, its pilots keep working); one older than a day is dropped.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta

from winjobs.driver.errors import Invalid
from winjobs.wire import POOL_NAME_PATTERN, PilotPool, PilotReport

POOL_NAME = re.compile(POOL_NAME_PATTERN)
#: Reports not refreshed for this many intervals are stale.
STALE_INTERVALS = 3
#: Reports not refreshed for this long are forgotten.
FORGET_AFTER = timedelta(days=1)


class PilotPools:
    """The last report of each pool, by name. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: dict[str, tuple[PilotReport, datetime]] = {}

    def report(self, name: str, report: PilotReport, now: datetime) -> None:
        if not POOL_NAME.match(name):
            raise Invalid(
                f"pool name {name!r}: use up to 64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        with self._lock:
            self._reports[name] = (report, now)

    def snapshot(self, now: datetime) -> list[PilotPool]:
        """Every pool's last report, by name; stale ones marked, very old ones dropped."""
        with self._lock:
            for name, (_, received) in list(self._reports.items()):
                if now - received > FORGET_AFTER:
                    del self._reports[name]
            reports = sorted(self._reports.items())
        return [
            PilotPool(
                name=name,
                manager=report.manager,
                system=report.system,
                partition=report.partition,
                max_pilots=report.max_pilots,
                reported_at=received,
                stale=now - received > timedelta(seconds=STALE_INTERVALS * report.interval_s),
                problem=report.problem,
                pilots=list(report.pilots),
            )
            for name, (report, received) in reports
        ]

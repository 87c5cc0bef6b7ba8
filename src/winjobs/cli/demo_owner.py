"""`winjobs demo --owner-active-after S`: the owner of demo-worker-1 comes back mid-job.

Worker 1 is configured like an office PC (docs/worker.md): it works only while its owner
has been idle 10 min, and learns the owner's idle time from a file (`idle_source: file`)
instead of the keyboard. S seconds after worker 1 started its first solver the demo starts
touching that file twice a second, as an owner at the keyboard would, until the job ends:
worker 1 suspends its solver, vacates the task after `vacate_after_s` (the demo's 5 s)
and hands it back, and the other workers run those years. The summary then tells what
happened.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from winjobs.client import DriverClient
from winjobs.wire import JobDetail

#: The office PC's policy in the demo: idle 10 min to start (nobody touched the file yet,
#: so it starts at once), vacate after 5 s suspended (not 10 min: it is a demo).
OFFICE_WORKER = 1
VACATE_AFTER_S = 5.0
#: Seconds per MC year when the owner comes back, unless the user's environment says:
#: tasks long enough to be caught running.
SECONDS_PER_YEAR = "3"


@dataclass
class OwnerScene:
    """The owner of demo-worker-1, played by a thread touching its idle file."""

    root: Path
    after_s: float
    _done: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    came_back: bool = False

    @property
    def marker(self) -> Path:
        return self.root / f"owner-active-{OFFICE_WORKER}"

    def worker_settings(self, index: int) -> dict[str, Any]:
        """Extra config keys of worker `index` (the office PC is worker 1)."""
        if index != OFFICE_WORKER:
            return {}
        return {
            "schedule": ["always idle=10m"],
            "idle_source": "file",
            "idle_file": str(self.marker),
            "vacate_after_s": VACATE_AFTER_S,
            "owner_check_s": 0.5,
        }

    def start(self) -> None:
        """The owner comes back `after_s` after worker 1's first solver started, and stays
        until `stop()`."""
        self._thread = threading.Thread(target=self._play, name="demo-owner", daemon=True)
        self._thread.start()

    def _play(self) -> None:
        solver_logs = self.root / f"worker-{OFFICE_WORKER}" / "tasks"
        while not any(solver_logs.glob("*/solver.log")):  # its first solver started
            if self._done.wait(0.1):
                return
        if self._done.wait(self.after_s):
            return
        self.came_back = True
        while not self._done.is_set():
            self.marker.touch()
            os.utime(self.marker)
            self._done.wait(0.5)

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(5)

    def story(self, client: DriverClient, job: JobDetail) -> list[str]:
        """What the owner's return did, from the driver's own records."""
        if not self.came_back:
            return [f"the owner of demo-worker-{OFFICE_WORKER} did not come back before the end"]
        lines = [
            f"the owner of demo-worker-{OFFICE_WORKER} came back {self.after_s:g}s after its "
            "first task started:"
        ]
        lines += [
            "  " + line.split("] ", 1)[-1]
            for line in client.job_log(job.id).splitlines()
            if " given back by " in line or "taken over from worker" in line
        ] or ["  (it held no task at that moment: it just took no more)"]
        for worker in client.list_workers().workers:
            if worker.name == f"demo-worker-{OFFICE_WORKER}" and worker.policy is not None:
                reason = f": {worker.policy_reason}" if worker.policy_reason else ""
                lines.append(f"  demo-worker-{OFFICE_WORKER} now: {worker.policy.label}{reason}")
        return lines

"""The pool of workers as users and admins see and handle it: the list, and the admin
actions on one worker (release now; drain, hold and forget belong next to it).

An admin action names the worker as people do (its registered name) and answers with
the worker as `GET /workers` shows it, so the CLI and the dashboard print the result
without a second request.
"""

from __future__ import annotations

import logging

from winjobs.driver import views
from winjobs.driver.errors import NotFound
from winjobs.driver.pilots import PilotPools
from winjobs.driver.settings import DriverSettings
from winjobs.driver.signals import WorkSignal
from winjobs.driver.store import Store
from winjobs.wire import Identity, WorkerInfo, WorkerList

log = logging.getLogger(__name__)


class PoolService:
    def __init__(self, store: Store, settings: DriverSettings, signal: WorkSignal) -> None:
        self.store = store
        self.settings = settings
        self.signal = signal
        #: batch-system pools of pilot workers, as their managers last reported them
        self.pilots = PilotPools()

    def list(self) -> WorkerList:
        """Every worker that ever registered: state (held, and why), current task; and
        the batch-system pools (docs/slurm.md) with their pilots, pending ones included."""
        now = self.store.clock()
        offline = self.settings.worker_offline_s
        return WorkerList(
            workers=[
                views.worker_info(worker, tasks, now, offline)
                for worker, tasks in self.store.list_workers()
            ],
            pools=self.pilots.snapshot(now),
        )

    def worker(self, name: str) -> WorkerInfo:
        for info in self.list().workers:
            if info.name == name:
                return info
        raise NotFound(f"no worker named {name!r}")

    def release(self, name: str, admin: Identity) -> WorkerInfo:
        """Lift a hold: the worker claims again, its failures in a row forgotten."""
        reason = self.store.release_worker(name)
        log.warning("worker %s released by %s (it was held for: %s)", name, admin.name, reason)
        self.signal.notify()  # its waiting claim takes work at once
        return self.worker(name)

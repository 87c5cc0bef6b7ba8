"""The pool of workers as users and admins see and handle it: the list, and the admin
actions on one worker (hold, drain, release, forget).

An admin action names the worker as people do (its registered name) and answers with
the worker as `GET /workers` shows it, so the CLI and the dashboard print the result
without a second request. The admin rule is applied here, so the API and the
dashboard's forms get the same refusal (403) from the same place.
"""

from __future__ import annotations

import logging

from winjobs.driver import views
from winjobs.driver.auth import require_role
from winjobs.driver.errors import NotFound
from winjobs.driver.pilots import PilotPools
from winjobs.driver.settings import DriverSettings
from winjobs.driver.signals import WorkSignal
from winjobs.driver.store import Store
from winjobs.wire import Identity, Role, WorkerInfo, WorkerList

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
        _as_admin(admin)
        reason = self.store.release_worker(name)
        log.warning("worker %s released by %s (it was held for: %s)", name, admin.name, reason)
        self.signal.notify()  # its waiting claim takes work at once
        return self.worker(name)

    def hold(self, name: str, reason: str | None, admin: Identity) -> WorkerInfo:
        """No new task for the worker (its running one goes on) until an admin releases
        it, restarts included."""
        _as_admin(admin)
        why = reason or f"held by {admin.name}"
        self.store.hold_worker(name, why, admin.name)
        log.warning("worker %s held by %s: %s", name, admin.name, why)
        return self.worker(name)

    def drain(self, name: str, reason: str | None, admin: Identity) -> WorkerInfo:
        """The worker finishes its task and takes no new one, until it restarts (the
        maintenance it was drained for is done) or an admin releases it."""
        _as_admin(admin)
        why = reason or f"drained by {admin.name}"
        self.store.drain_worker(name, why, admin.name)
        log.warning("worker %s drained by %s: %s", name, admin.name, why)
        return self.worker(name)

    def forget(self, name: str, admin: Identity) -> WorkerInfo:
        """An offline worker leaves the lists and counts (until it is seen again); the
        answer is the worker as it was last shown."""
        _as_admin(admin)
        shown = self.worker(name)
        self.store.forget_worker(name, self.settings.worker_offline_s)
        log.warning("worker %s forgotten by %s", name, admin.name)
        return shown


def _as_admin(identity: Identity) -> None:
    require_role(identity, (Role.ADMIN,), "acting on a worker")

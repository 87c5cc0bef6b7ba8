"""An admin's hand on one worker: hold it with a reason, drain it, forget it (the release
is next to the holds the driver makes itself, in `failures`).

A hold and a drain are the same thing to the scheduler (`Worker.held_at`: no new task, a
running one goes on, not counted in the pool, not a candidate for failed tasks); they
differ in how they end. A hold stays until an admin releases it, restarts included. A
drain is for maintenance: it ends when the worker registers again (restarted) or is
released, and shows as `draining`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from winjobs.driver.errors import Conflict, NotFound
from winjobs.driver.models import Task, Worker
from winjobs.driver.store.base import StoreBase
from winjobs.driver.store.workers import REMEMBERED
from winjobs.wire import TaskStatus


class AdminStore(StoreBase):
    def hold_worker(self, name: str, reason: str, by: str) -> None:
        """No new task for the worker until an admin releases it (409 if held already)."""
        self._put_on_hold(name, reason, by, drained=False)

    def drain_worker(self, name: str, reason: str, by: str) -> None:
        """No new task for the worker until it restarts or is released (409 if held or
        drained already: release it first)."""
        self._put_on_hold(name, reason, by, drained=True)

    def _put_on_hold(self, name: str, reason: str, by: str, drained: bool) -> None:
        with self._write() as conn:
            row = self._named(conn, name)
            if row.held_at is not None:
                state = "drained" if row.drained else "held"
                raise Conflict(
                    f"worker {name} is {state} already ({row.held_reason}): release it first"
                )
            conn.execute(
                update(Worker)
                .where(Worker.id == row.id)
                .values(held_at=self.clock(), held_reason=reason, held_by=by, drained=drained)
            )

    def forget_worker(self, name: str, offline_s: float) -> None:
        """Leave an offline worker out of lists and counts until it is seen again (409 if
        it is online, or a task of it is still leased)."""
        now = self.clock()
        with self._write() as conn:
            row = self._named(conn, name)
            if row.last_seen >= now - timedelta(seconds=offline_s):
                raise Conflict(
                    f"worker {name} is online (seen {_ago(now, row.last_seen)}): stop it "
                    "first, or drain it; only an offline worker can be forgotten"
                )
            leased = conn.execute(
                select(Task.id).where(
                    Task.worker_id == row.id, Task.status == TaskStatus.RUNNING.value
                )
            ).first()
            if leased is not None:
                raise Conflict(
                    f"worker {name} still holds task {leased.id} until its lease runs out; "
                    "try again in a minute"
                )
            conn.execute(update(Worker).where(Worker.id == row.id).values(forgotten_at=now))

    def _named(self, conn: Connection, name: str) -> Any:
        row = conn.execute(
            self._for_update(
                select(
                    Worker.id, Worker.held_at, Worker.held_reason, Worker.drained, Worker.last_seen
                ).where(Worker.name == name, REMEMBERED)
            )
        ).one_or_none()
        if row is None:
            raise NotFound(f"no worker named {name!r}")
        return row


def _ago(now: datetime, moment: datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"

"""Workers: registration, listing; and the start-up and overview queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from winjobs.driver.errors import Conflict, Forbidden, NotFound
from winjobs.driver.models import Job, Task, TaskCopy, Worker
from winjobs.driver.store.base import StoreBase
from winjobs.driver.store.failures import NOT_HELD
from winjobs.driver.store.records import NO_POLICY, Counts, PolicyStatus
from winjobs.wire import JobStatus, TaskStatus

#: not forgotten by an admin, or seen since (`Worker.forgotten_at`)
REMEMBERED = or_(Worker.forgotten_at.is_(None), Worker.last_seen > Worker.forgotten_at)


@dataclass(frozen=True)
class Registration:
    worker_id: int
    held_reason: str | None = None  #: still on hold: why
    #: it was held and registered with a changed configuration: the hold it left
    released_from: str | None = None


def config_changed(before: str | None, now: str | None) -> bool:
    """A worker's configuration changed when both fingerprints are known and differ (a
    worker that sends none, an older one, cannot prove it changed)."""
    return before is not None and now is not None and before != now


def lifted_by_restart(held: Any, config_sha256: str | None) -> bool:
    """A registration lifts an admin's drain (the worker restarted: the maintenance it was
    drained for is done), and the driver's own hold when the configuration changed. An
    admin's hold stays until an admin releases it."""
    if held.drained:
        return True
    return held.held_by == "driver" and config_changed(held.config_sha256, config_sha256)


class WorkerStore(StoreBase):
    def register_worker(
        self,
        name: str,
        os: str,
        cores: int,
        versions: list[str],
        transfer: str,
        shared_output_root: str | None,
        free_disk_bytes: int | None,
        config_sha256: str | None = None,
        *,
        token_name: str,
        policy: PolicyStatus = NO_POLICY,
    ) -> Registration:
        """Create the worker, or refresh it when a worker of that name registers again
        with the same token (the same worker: its id, hold and history are kept); a held
        worker stays held unless `lifted_by_restart`. The token owns the id
        (`worker_owner`): another token cannot take a registered name over (Forbidden)."""
        now = self.clock()
        values: dict[str, Any] = {
            "os": os,
            "cores": cores,
            "versions": versions,
            "transfer": transfer,
            "shared_output_root": shared_output_root,
            "free_disk_bytes": free_disk_bytes,
            "draining": False,
            "token_name": token_name,
            "registered_at": now,
            "last_seen": now,
            "policy_state": policy.state,
            "policy_reason": policy.reason,
            "next_work_at": policy.next_work_at,
            "config_sha256": config_sha256,
            "forgotten_at": None,  # a forgotten worker that registers is back
        }
        for _ in range(3):
            try:
                with self._write() as conn:
                    found = conn.execute(
                        self._for_update(
                            select(
                                Worker.id,
                                Worker.token_name,
                                Worker.held_at,
                                Worker.held_reason,
                                Worker.held_by,
                                Worker.drained,
                                Worker.config_sha256,
                            )
                        ).where(Worker.name == name)
                    ).one_or_none()
                    if found is None:
                        worker_id = conn.execute(
                            insert(Worker).values(name=name, **values).returning(Worker.id)
                        ).scalar_one()
                        return Registration(int(worker_id))
                    if found.token_name not in (None, token_name):
                        raise Forbidden(
                            f"worker name {name!r} belongs to another worker token: register "
                            "under another name, or with the token it registered with"
                        )
                    release = found.held_at is not None and lifted_by_restart(found, config_sha256)
                    changes = {**values, **(NOT_HELD if release else {})}
                    if config_sha256 is None:  # keep the last one known
                        del changes["config_sha256"]
                    conn.execute(update(Worker).where(Worker.id == found.id).values(**changes))
                    if release:
                        return Registration(int(found.id), released_from=found.held_reason)
                    held = found.held_reason if found.held_at is not None else None
                    return Registration(int(found.id), held_reason=held)
            except IntegrityError:  # the same name registered concurrently: update it
                continue
        raise Conflict(f"worker {name!r} is registering from several places at once")

    def worker_owner(self, worker_id: int) -> str | None:
        """Name of the token that registered the worker (None: registered before tokens
        owned ids); NotFound if there is no such worker."""
        with self._read() as conn:
            found = conn.execute(
                select(Worker.token_name).where(Worker.id == worker_id)
            ).one_or_none()
        if found is None:
            raise NotFound(f"no worker {worker_id}: register again")
        owner: str | None = found.token_name
        return owner

    def list_workers(self) -> list[tuple[Worker, list[Task]]]:
        """Every worker (but the forgotten ones) once, by name, with the tasks it is
        running (the most recently claimed first; none when idle)."""
        current = and_(Task.worker_id == Worker.id, Task.status == TaskStatus.RUNNING.value)
        stmt = (
            select(Worker, Task)
            .outerjoin(Task, current)
            .where(REMEMBERED)
            .order_by(Worker.name, Worker.id, Task.started_at.desc(), Task.id.desc())
        )
        listing: dict[int, tuple[Worker, list[Task]]] = {}
        with self._session() as session:
            for worker, task in session.execute(stmt):
                _, tasks = listing.setdefault(worker.id, (worker, []))
                if task is not None:
                    tasks.append(task)
        return list(listing.values())

    def get_worker(self, worker_id: int) -> Worker:
        with self._session() as session:
            worker = session.get(Worker, worker_id)
        if worker is None:
            raise NotFound(f"no worker {worker_id}: register again")
        return worker

    # ------------------------------------------------------------------ start-up & overview

    def extend_running_leases(self, lease_seconds: float) -> int:
        """At start-up: give running tasks a full lease, as the driver's downtime is not
        their workers' fault (they kept running and retried their heartbeats)."""
        until = self.clock() + timedelta(seconds=lease_seconds)
        with self._write() as conn:
            conn.execute(  # their speculative copies' workers too
                update(TaskCopy)
                .where(TaskCopy.status == "running", TaskCopy.lease_until < until)
                .values(lease_until=until)
            )
            return int(
                conn.execute(
                    update(Task)
                    .where(
                        Task.status == TaskStatus.RUNNING.value,
                        or_(Task.lease_until.is_(None), Task.lease_until < until),
                    )
                    .values(lease_until=until)
                ).rowcount
            )

    def job_ids(self) -> set[int]:
        with self._read() as conn:
            return {int(i) for i in conn.execute(select(Job.id)).scalars()}

    def study_hashes(self) -> set[str]:
        with self._read() as conn:
            return set(conn.execute(select(Job.study_sha256).distinct()).scalars())

    def outputs_to_keep(self) -> set[tuple[int, int, int]]:
        """(job id, task id, attempt) of the task outputs still needed: succeeded tasks
        of jobs not yet assembled (a failed or cancelled job keeps them for a retry). A
        succeeded job's are not: its assembly removes them, and a start-up after a kill
        between its success and that removal finishes the job."""
        with self._read() as conn:
            rows = conn.execute(
                select(Task.job_id, Task.id, Task.attempt)
                .join(Job, Job.id == Task.job_id)
                .where(
                    Task.status == TaskStatus.SUCCEEDED.value,
                    Job.status != JobStatus.SUCCEEDED.value,
                )
            ).all()
        return {(int(j), int(t), int(a)) for j, t, a in rows}

    def ping(self) -> str:
        """Round-trip to the database; returns its kind ("sqlite" or "postgresql")."""
        with self._read() as conn:
            conn.execute(select(1))
        return "sqlite" if self._sqlite else "postgresql"

    def counts(self) -> Counts:
        with self._read() as conn:
            jobs = conn.execute(select(Job.status, func.count()).group_by(Job.status)).all()
            tasks = conn.execute(select(Task.status, func.count()).group_by(Task.status)).all()
        return Counts({s: int(n) for s, n in jobs}, {s: int(n) for s, n in tasks})

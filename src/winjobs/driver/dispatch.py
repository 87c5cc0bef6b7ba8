"""The worker protocol's operations: register, claim, heartbeat, fail, complete, fetch study.

Knows nothing of HTTP. The long-poll waiting itself lives in `api/workers.py` (async, so
a waiting claim holds no thread); `claim_once` is the single database attempt it repeats.
Claims, heartbeats and completions are coroutines: their statements run in the store's
writer thread (batched commits, `store/writer.py`), the checks of task outputs in the
thread pool, and nothing blocks the event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import anyio.to_thread

from winjobs.driver import failure_policy, fairshare, scheduler
from winjobs.driver.auth import WorkerOwners
from winjobs.driver.collector import CheckedOutput, CheckedRun, Collector
from winjobs.driver.errors import Conflict, Invalid, NotFound, Unavailable
from winjobs.driver.files import DataDir, Upload, same_content
from winjobs.driver.metrics import ClaimStats, TaskStats
from winjobs.driver.settings import DriverSettings
from winjobs.driver.shared import SharedFolders
from winjobs.driver.signals import WorkSignal
from winjobs.driver.speculation import SpeculationRule
from winjobs.driver.store import (
    Claimed,
    ClaimPolicy,
    FailOutcome,
    FailureReport,
    FailureRules,
    HeldTask,
    PolicyStatus,
    Store,
    TaskEvent,
    Tx,
    accepted_in,
    claim_in,
    complete_in,
    describe_years,
    heartbeat_in,
    held_in,
)
from winjobs.wire import (
    Ack,
    ClaimRequest,
    Heartbeat,
    HeartbeatReply,
    PolicyReport,
    SharedCompletion,
    TaskAssignment,
    TaskFailure,
    Transfer,
    WorkerRegistered,
    WorkerRegistration,
)

log = logging.getLogger(__name__)

_SHA256_HEX = frozenset("0123456789abcdef")
#: uploads up to this size are checked in the event loop (a fraction of a millisecond:
#: less than a hop to the thread pool and back); larger ones in a thread
_CHECKED_IN_PLACE = 64 * 1024


class Dispatch:
    def __init__(
        self,
        store: Store,
        files: DataDir,
        settings: DriverSettings,
        signal: WorkSignal,
        claims: ClaimStats,
        collector: Collector,
        shared: SharedFolders | None = None,
        task_stats: TaskStats | None = None,
    ) -> None:
        self.store = store
        self.files = files
        self.settings = settings
        self.signal = signal
        self.claims = claims
        self.task_stats = task_stats or TaskStats()
        self.collector = collector
        self.shared = shared or SharedFolders(settings, files, store)
        self.owners = WorkerOwners(store.worker_owner)
        self.policy = ClaimPolicy(
            chunk_policy=settings.chunk_policy,
            lease_seconds=settings.lease_seconds,
            worker_offline_s=settings.worker_offline_s,
            reassign_suspended_after_s=settings.reassign_suspended_after_s,
            hold_after_failures=settings.hold_after_failures,
            order=fairshare.order_rules(settings),
            speculation=speculation_rule(settings),
        )
        self.failure_rules = failure_rules(settings)

    def register(self, registration: WorkerRegistration, token_name: str) -> WorkerRegistered:
        """Register (or refresh) a worker; `token_name` (the caller's token) owns its id."""
        bad = []
        for version in registration.versions:
            try:
                scheduler.parse_version(version)
            except ValueError as exc:
                bad.append(str(exc))
        if bad:
            raise Invalid("versions: " + "; ".join(bad))
        if registration.transfer is Transfer.SHARED:
            self.shared.check_output_root(registration.name, registration.shared_output_root)
        registered = self.store.register_worker(
            name=registration.name,
            os=registration.os,
            cores=registration.cores,
            versions=list(registration.versions),
            transfer=registration.transfer.value,
            shared_output_root=registration.shared_output_root,
            free_disk_bytes=registration.free_disk_bytes,
            policy=policy_status(registration.policy),
            config_sha256=registration.config_sha256,
            token_name=token_name,
        )
        worker_id = registered.worker_id
        self.owners.bind(worker_id, token_name)
        if registered.released_from is not None:
            log.warning(
                "worker %s released from hold: it registered with a changed configuration "
                "(it was held for: %s)",
                registration.name,
                registered.released_from,
            )
        elif registered.held_reason is not None:
            log.warning(
                "worker %s registered again with the same configuration: still held (%s)",
                registration.name,
                registered.held_reason,
            )
        self.shared.remember(
            worker_id, registration.transfer, registration.shared_output_root, registration.name
        )
        return WorkerRegistered(
            worker_id=worker_id,
            heartbeat_interval_s=self.settings.heartbeat_every_s,
            lease_seconds=self.settings.lease_seconds,
            held_reason=registered.held_reason,
        )

    async def claim_once(self, worker_id: int, request: ClaimRequest) -> TaskAssignment | None:
        """One attempt at leasing a task to this worker (timed for /metrics)."""
        started = time.perf_counter()

        def operation(tx: Tx) -> Claimed | None:
            claimed = claim_in(
                tx,
                worker_id,
                request.free_cores,
                request.draining,
                request.free_disk_bytes,
                self.policy,
                paused=request.paused,
                status=policy_status(request.policy),
            )
            if claimed is None:
                return None
            if claimed.taken_from is not None:
                since = claimed.suspended_since
                when = f"{since:%H:%M:%S} UTC" if since else "?"
                tx.log(
                    claimed.job_id,
                    f"task {claimed.task_id} taken over from worker {claimed.taken_from}, "
                    f"whose solver was suspended since {when} (its owner is active): "
                    "not counted",
                )
            copy = ""
            if claimed.copy_of is not None:
                copy = (
                    f", a speculative copy of attempt {claimed.copy_of} on worker "
                    f"{claimed.copy_of_worker}, {claimed.behind:.1f} times behind its "
                    "job's pace"
                )
            tx.log(
                claimed.job_id,
                f"task {claimed.task_id} (years {describe_years(claimed.years)}) attempt "
                f"{claimed.attempt} -> worker {claimed.worker_name} "
                f"(solver {claimed.solver_version}){copy}",
            )
            return claimed

        claimed = await self.store.writer.run(operation)
        self.claims.observe(time.perf_counter() - started)
        if claimed is None:
            return None
        archive = None
        if self.shared.enabled:
            sha256 = claimed.study_sha256
            if self.shared.knows(worker_id) and self.shared.recently_published(sha256):
                archive = self._shared_archive(worker_id, claimed.task_id, sha256)  # no I/O
            else:  # the worker's facts may need the store, the archive the disk
                archive = await anyio.to_thread.run_sync(
                    self._shared_archive, worker_id, claimed.task_id, sha256
                )
        shared = archive is not None
        return TaskAssignment(
            task_id=claimed.task_id,
            job_id=claimed.job_id,
            attempt=claimed.attempt,
            years=claimed.years,
            antares_version=claimed.antares_version,
            solver_version=claimed.solver_version,
            study_sha256=claimed.study_sha256,
            study_size=claimed.study_size,
            study_name=claimed.study_name,
            transfer=Transfer.SHARED if shared else Transfer.HTTP,
            shared_archive_path=str(archive) if archive is not None else None,
            keep_shared_output=shared and self.shared.link,
            time_limit_s=claimed.time_limit_s,
            lease_seconds=self.settings.lease_seconds,
            heartbeat_interval_s=self.settings.heartbeat_every_s,
        )

    def _shared_archive(self, worker_id: int, task_id: int, sha256: str) -> Path | None:
        """The archive path for a shared-mode worker; None: the task goes over HTTP (an
        HTTP worker, or a shared folder out of reach: better than no task at all)."""
        if not self.shared.serves_shared(worker_id):
            return None
        try:
            return self.shared.publish_archive(sha256)
        except Unavailable as exc:
            log.warning("task %d goes over HTTP: %s", task_id, exc)
            return None

    async def heartbeat(self, task_id: int, worker_id: int, beat: Heartbeat) -> HeartbeatReply:
        lease = self.settings.lease_seconds
        status = policy_status(beat.policy) if beat.policy is not None else None
        result = await self.store.writer.run(
            lambda tx: heartbeat_in(
                tx,
                task_id,
                worker_id,
                beat.attempt,
                beat.years_done,
                lease,
                suspended=beat.suspended,
                status=status,
            )
        )
        return HeartbeatReply(cancel=result.cancel, lease_until=result.lease_until)

    def fail(self, task_id: int, worker_id: int, failure: TaskFailure) -> Ack:
        report = FailureReport(
            reason=failure.reason,
            log_tail=failure.log_tail,
            release=failure.release,
            kind=failure.kind,
            fingerprint=failure_policy.fingerprint(failure.evidence),
            crashed=failure.evidence.signal is not None,
        )
        event = self.store.fail_task(
            task_id, worker_id, failure.attempt, report, self.failure_rules
        )
        self.task_stats.failure("released" if failure.release else failure.kind.value)
        if failure.log_tail:
            self._task_log(event.job_id, task_id, failure.attempt, failure.log_tail)
        self.record([event])
        return Ack(detail=event.outcome.value)

    async def check_report(self, task_id: int, worker_id: int, attempt: int) -> None:
        """Refuse early (before a long upload) a report the attempt can no longer make;
        a repeat of the attempt's accepted report is let through (it may be answered 200)."""

        def operation(tx: Tx) -> None:
            try:
                held_in(tx, task_id, worker_id, attempt)
            except Conflict:
                if accepted_in(tx, task_id, worker_id, attempt) is None:
                    raise

        await self.store.writer.run(operation)

    async def receive_output(
        self, task_id: int, worker_id: int, attempt: int, log_tail: str, upload: Upload
    ) -> Ack:
        """Check an uploaded run zip and, if the attempt still holds the task, keep it and
        record the completion.

        The zip is checked in its own temporary file, in a thread; the writer then checks
        that the attempt holds the task and that the run is of the task's years, moves
        the zip into place and records the completion, one report at a time. So of two
        uploads of the same attempt (a worker retrying after a lost answer) exactly one
        is accepted; the other gets 409, or 200 when its bytes equal the accepted
        output's; a losing upload never touches the accepted one."""
        if upload.data is not None and len(upload.data) <= _CHECKED_IN_PLACE:
            return await self._receive_small(task_id, worker_id, attempt, log_tail, upload.data)
        checked = await anyio.to_thread.run_sync(self.collector.check_output, task_id, upload)
        staged = checked.path
        assert staged is not None

        def keep(held: HeldTask) -> Path:
            return self.collector.keep_output(held.job_id, task_id, attempt, staged)

        try:
            ack = await self._complete(
                task_id, worker_id, attempt, log_tail, checked.run, "uploaded", keep
            )
        except Conflict as refused:
            return await anyio.to_thread.run_sync(
                self._repeated, task_id, worker_id, attempt, staged, refused
            )
        finally:
            staged.unlink(missing_ok=True)
        self.task_stats.upload.observe(upload.size)
        return ack

    async def _receive_small(
        self, task_id: int, worker_id: int, attempt: int, log_tail: str, data: bytes
    ) -> Ack:
        """A small upload held in memory: checked here (no I/O: no thread needed), and
        written to its place by the writer, without a temporary file."""
        run = self.collector.check_bytes(task_id, data)

        def keep(held: HeldTask) -> Path:
            return self.collector.keep_bytes(held.job_id, task_id, attempt, data)

        try:
            ack = await self._complete(task_id, worker_id, attempt, log_tail, run, "uploaded", keep)
        except Conflict as refused:
            return await anyio.to_thread.run_sync(
                self._repeated, task_id, worker_id, attempt, data, refused
            )
        self.task_stats.upload.observe(len(data))
        return ack

    def _repeated(
        self, task_id: int, worker_id: int, attempt: int, content: Path | bytes, refused: Conflict
    ) -> Ack:
        """A report of an attempt that no longer holds the task: 200 if it repeats the
        output this attempt had accepted (byte for byte, while it is kept), else 409."""
        job_id = self.store.accepted_by(task_id, worker_id, attempt)
        if job_id is not None and same_content(
            self.files.task_output_zip(job_id, task_id, attempt), content
        ):
            return Ack(detail="already accepted")
        raise refused

    async def receive_shared(
        self, task_id: int, worker_id: int, completion: SharedCompletion
    ) -> Ack:
        """Shared mode: check the run folder where the worker left it (collect: link) or
        a copy of it (collect: copy), then record the completion like an upload's."""

        def check() -> CheckedOutput:
            # a stale attempt gets its 409 before a whole run is read or copied from a
            # share (the commit checks the attempt again)
            self.store.check_running(task_id, worker_id, completion.attempt)
            run = self.shared.run_folder(worker_id, completion.run_path)
            return self.collector.check_shared(task_id, run, copy=not self.shared.link)

        checked = await anyio.to_thread.run_sync(check)
        attempt, holder = completion.attempt, checked.path
        location = None if holder is not None else completion.run_path

        def keep(held: HeldTask) -> Path | None:
            if holder is None:
                return None
            return self.collector.keep_copy(held.job_id, task_id, attempt, holder)

        try:
            return await self._complete(
                task_id,
                worker_id,
                attempt,
                completion.log_tail,
                checked.run,
                "shared",
                keep,
                location,
            )
        finally:
            if holder is not None:
                await anyio.to_thread.run_sync(self.collector.discard, holder)

    async def _complete(
        self,
        task_id: int,
        worker_id: int,
        attempt: int,
        log_tail: str,
        run: CheckedRun,
        what: str,
        keep: Callable[[HeldTask], Path | None],
        output_location: str | None = None,
    ) -> Ack:
        """Record a completion in the writer: the attempt must hold the task, the run
        must be of the task's years and solver; then its output is kept (`keep`, before
        the commit) and the job's assembly queued if it was the last task.

        `output_location`: shared mode with collect: link, where the run stays."""

        def operation(tx: Tx) -> Ack:
            kept: list[Path] = []
            accepted: list[HeldTask] = []

            def accept(held: HeldTask) -> None:
                refusal = run.refusal(held.years, held.solver_version)
                if refusal is not None:
                    raise Invalid(f"task {task_id}: the {what} output was refused: {refusal}")
                accepted.append(held)
                if (path := keep(held)) is not None:
                    kept.append(path)

            try:
                job_id, ready = complete_in(
                    tx,
                    task_id,
                    worker_id,
                    attempt,
                    log_tail,
                    output_location,
                    accept,
                    half_life_s=self.policy.order.half_life_s,
                )
            except BaseException:
                for path in kept:
                    self.collector.discard(path)
                raise
            finished = tx.clock()
            tx.after(lambda: self._count_success(accepted[0], finished))
            if log_tail:
                tx.after(lambda: self._task_log(job_id, task_id, attempt, log_tail))
            where = f" (output kept at {output_location})" if output_location else ""
            tx.log(job_id, f"task {task_id} attempt {attempt} succeeded{where}")
            if ready:
                tx.log(job_id, "every year is done: assembling the output")
                tx.after(lambda: self.collector.schedule(job_id))
            return Ack()

        return await self.store.writer.run(operation)

    def _count_success(self, held: HeldTask, finished: datetime) -> None:
        """Counted once the completion is committed (`Tx.after`)."""
        started = held.started_at
        seconds = (finished - started).total_seconds() if started else None
        self.task_stats.succeeded(len(held.years), seconds)

    def study_archive(self, sha256: str) -> Path:
        if len(sha256) != 64 or not set(sha256) <= _SHA256_HEX:
            raise NotFound(f"{sha256!r} is not a study hash (64 lowercase hex digits)")
        path = self.files.study_archive(sha256)
        if not path.is_file():
            raise NotFound(f"no study archive {sha256[:12]}... on this driver")
        return path

    def record(self, events: list[TaskEvent]) -> None:
        """Log what failures and lease expiries did; wake claims if work came back."""
        for event in events:
            self._log(event.job_id, describe_event(event))
            if event.held is not None:
                log.warning("worker %s is held: %s", event.worker, event.held)
                self._log(event.job_id, f"worker {event.worker} is held: {event.held}")
        if any(e.outcome is not FailOutcome.JOB_FAILED for e in events):
            self.signal.notify()

    def _log(self, job_id: int, text: str) -> None:
        self.files.append_log(self.files.job_log(job_id), text)

    def _task_log(self, job_id: int, task_id: int, attempt: int, text: str) -> None:
        self.files.append_task_log(job_id, task_id, attempt, text)


def policy_status(report: PolicyReport | None) -> PolicyStatus:
    """What the store keeps of a worker's policy report (all None: it sent none)."""
    if report is None:
        return PolicyStatus()
    return PolicyStatus(report.state.value, report.reason or None, report.next_work_at)


def speculation_rule(settings: DriverSettings) -> SpeculationRule | None:
    """The speculative-copy rule the claim applies; None: copies are off."""
    if not settings.speculative_copies:
        return None
    return SpeculationRule(settings.speculative_factor, settings.speculative_min_finished)


def failure_rules(settings: DriverSettings) -> FailureRules:
    return FailureRules(
        max_attempts=settings.max_attempts,
        hold_after_failures=settings.hold_after_failures,
        worker_offline_s=settings.worker_offline_s,
    )


def describe_event(event: TaskEvent) -> str:
    """One line of the job log: what became of the task, and why."""
    head = f"task {event.task_id} (years {describe_years(event.years)})"
    on = f" on {event.worker}" if event.worker else ""
    if event.outcome is FailOutcome.RELEASED:
        return f"{head} given back by {event.worker or 'its worker'}: {event.reason}"
    if event.outcome is FailOutcome.COPY_ENDED:
        return f"{head}: its copy{on} ended, the original runs on: {event.reason}"
    if event.outcome is FailOutcome.COPY_PROMOTED:
        return f"{head}: the original{on} ended, its copy goes on (not counted): {event.reason}"
    if event.outcome is FailOutcome.REOPENED:
        return f"{head}: {event.reason}"
    if event.outcome is FailOutcome.JOB_FAILED:
        return f"{head} failed for the last time{on}: the job failed: {event.reason}"
    counted = "" if event.counted else " (not counted: the machine's fault)"
    where = "; its next attempt goes to another worker" if event.avoided else ""
    return f"{head} failed{on}{counted} and is queued again{where}: {event.reason}"

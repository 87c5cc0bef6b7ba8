"""The worker protocol's operations: register, claim, heartbeat, fail, complete, fetch study.

Knows nothing of HTTP. The long-poll waiting itself lives in `api/workers.py` (async, so
a waiting claim holds no thread); `claim_once` is the single database attempt it repeats.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from winjobs.driver import failure_policy, scheduler
from winjobs.driver.auth import WorkerOwners
from winjobs.driver.collector import Collector
from winjobs.driver.errors import Conflict, Invalid, NotFound, Unavailable
from winjobs.driver.files import DataDir, remove_tree
from winjobs.driver.metrics import ClaimStats, TaskStats
from winjobs.driver.models import Task
from winjobs.driver.settings import DriverSettings
from winjobs.driver.shared import SharedFolders
from winjobs.driver.signals import WorkSignal
from winjobs.driver.store import (
    ClaimPolicy,
    FailOutcome,
    FailureReport,
    FailureRules,
    PolicyStatus,
    Store,
    TaskEvent,
    describe_years,
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
    TaskStatus,
    Transfer,
    WorkerRegistered,
    WorkerRegistration,
)

log = logging.getLogger(__name__)

_SHA256_HEX = frozenset("0123456789abcdef")


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

    def claim_once(self, worker_id: int, request: ClaimRequest) -> TaskAssignment | None:
        """One attempt at leasing a task to this worker (timed for /metrics)."""
        started = time.perf_counter()
        claimed = self.store.claim(
            worker_id,
            free_cores=request.free_cores,
            draining=request.draining,
            free_disk_bytes=request.free_disk_bytes,
            policy=self.policy,
            paused=request.paused,
            status=policy_status(request.policy),
        )
        self.claims.observe(time.perf_counter() - started)
        if claimed is None:
            return None
        if claimed.taken_from is not None:
            since = f"{claimed.suspended_since:%H:%M:%S} UTC" if claimed.suspended_since else "?"
            self._log(
                claimed.job_id,
                f"task {claimed.task_id} taken over from worker {claimed.taken_from}, whose "
                f"solver was suspended since {since} (its owner is active): not counted",
            )
        self._log(
            claimed.job_id,
            f"task {claimed.task_id} (years {describe_years(claimed.years)}) attempt "
            f"{claimed.attempt} -> worker {claimed.worker_name} (solver {claimed.solver_version})",
        )
        archive = self._shared_archive(worker_id, claimed.task_id, claimed.study_sha256)
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

    def heartbeat(self, task_id: int, worker_id: int, beat: Heartbeat) -> HeartbeatReply:
        result = self.store.heartbeat(
            task_id,
            worker_id,
            beat.attempt,
            beat.years_done,
            self.settings.lease_seconds,
            suspended=beat.suspended,
            status=policy_status(beat.policy) if beat.policy is not None else None,
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

    def check_report(self, task_id: int, worker_id: int, attempt: int) -> None:
        """Refuse early (before a long upload) a report the attempt can no longer make.

        An attempt whose output was already accepted may send it again (its first answer
        was lost): it is compared once received."""
        try:
            self.store.check_running(task_id, worker_id, attempt)
        except Conflict:
            if not self._delivered(self.store.get_task(task_id), worker_id, attempt):
                raise

    def receive_output(
        self, task_id: int, worker_id: int, attempt: int, upload: Path, sha256: str, log_tail: str
    ) -> Ack:
        """Verify an uploaded run folder and record the completion.

        Refused (409) first if the attempt no longer holds the task. Two uploads of one
        attempt (a retry after a dropped connection) are verified each in a temporary
        folder of its own; the first recorded wins, the other gets 409, or 200 when it
        is byte for byte the accepted one."""
        size = upload.stat().st_size  # the archive as it came (unpacked and gone after)
        try:
            self.store.check_running(task_id, worker_id, attempt)
            task = self.store.get_task(task_id)
            verified = self.collector.accept_output(
                task_id, list(task.years), task.solver_version, upload, sha256
            )
            ack = self.record_completion(task_id, worker_id, attempt, log_tail, verified)
        except Conflict:  # before the upload was verified, or while it was
            task = self.store.get_task(task_id)
            if self._delivered(task, worker_id, attempt):
                return self._repeated(task, sha256)
            raise
        self.task_stats.upload.observe(size)
        return ack

    @staticmethod
    def _delivered(task: Task, worker_id: int, attempt: int) -> bool:
        """This attempt of this worker already completed the task."""
        return (
            task.status == TaskStatus.SUCCEEDED.value
            and task.attempt == attempt
            and task.worker_id == worker_id
        )

    def _repeated(self, task: Task, sha256: str) -> Ack:
        """A delivered attempt sends an output again: fine if it is the same bytes."""
        if self.collector.accepted_digest(task.job_id, task.id, task.attempt) == sha256:
            return Ack(detail="already accepted")
        raise Conflict(
            f"task {task.id}: attempt {task.attempt} already delivered another output; "
            "this upload is ignored"
        )

    def receive_shared(self, task_id: int, worker_id: int, completion: SharedCompletion) -> Ack:
        """Shared mode: verify the run folder where the worker left it (collect: link) or
        a copy of it (collect: copy), then record the completion like an upload's."""
        attempt = completion.attempt
        self.store.check_running(task_id, worker_id, attempt)
        run = self.shared.run_folder(worker_id, completion.run_path)
        task = self.store.get_task(task_id)
        verified = self.collector.accept_shared(
            task_id, list(task.years), task.solver_version, run, copy=not self.shared.link
        )
        location = None if verified is not None else completion.run_path
        return self.record_completion(
            task_id, worker_id, attempt, completion.log_tail, verified, location
        )

    def record_completion(
        self,
        task_id: int,
        worker_id: int,
        attempt: int,
        log_tail: str,
        verified: Path | None,
        output_location: str | None = None,
    ) -> Ack:
        """Mark the attempt succeeded, renaming its verified output (a temporary folder
        of its own) into the task's folder inside that transaction: only the request the
        fence lets through places anything. Queues the job's assembly when it was the
        last task. The verified folder is removed when the attempt lost the task.

        `output_location`: shared mode with collect: link, where the run stays."""
        placed: list[Path] = []

        def place(job_id: int) -> None:
            if verified is not None:
                placed.append(self.collector.place_output(verified, job_id, task_id, attempt))

        try:
            job_id, ready = self.store.complete_task(
                task_id, worker_id, attempt, log_tail, output_location, on_accepted=place
            )
        except BaseException:
            for path in placed:  # renamed, then the commit failed: no row refers to it
                remove_tree(path)
            raise
        finally:
            if verified is not None:
                remove_tree(verified)  # still there only if it was not placed
        self._count_success(task_id)
        if log_tail:
            self._task_log(job_id, task_id, attempt, log_tail)
        where = f" (output kept at {output_location})" if output_location else ""
        self._log(job_id, f"task {task_id} attempt {attempt} succeeded{where}")
        if ready:
            self._log(job_id, "every year is done: assembling the output")
            self.collector.schedule(job_id)
        return Ack()

    def _count_success(self, task_id: int) -> None:
        task = self.store.get_task(task_id)
        started = task.started_at
        seconds = (self.store.clock() - started).total_seconds() if started else None
        self.task_stats.succeeded(len(task.years), seconds)

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
        path = self.files.task_log(job_id, task_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"===== attempt {attempt} =====\n{text.rstrip()}\n")


def policy_status(report: PolicyReport | None) -> PolicyStatus:
    """What the store keeps of a worker's policy report (all None: it sent none)."""
    if report is None:
        return PolicyStatus()
    return PolicyStatus(report.state.value, report.reason or None, report.next_work_at)


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
    if event.outcome is FailOutcome.REOPENED:
        return f"{head}: {event.reason}"
    if event.outcome is FailOutcome.JOB_FAILED:
        return f"{head} failed for the last time{on}: the job failed: {event.reason}"
    counted = "" if event.counted else " (not counted: the machine's fault)"
    where = "; its next attempt goes to another worker" if event.avoided else ""
    return f"{head} failed{on}{counted} and is queued again{where}: {event.reason}"

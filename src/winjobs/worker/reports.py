"""Deliver the one report each claimed attempt ends with, whatever the driver's state.

Each claimed attempt ends in exactly one report: its output (checked strictly, zipped,
uploaded), a failure with the reason and the log tail, a release (the worker could not
or would not run it: not the task's fault), or nothing at all when the driver already
took the task away (cancelled, lease lost). Reports are retried while the driver is down
or failing; a 409 means the task went to another attempt, and the report is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from winjobs.client import ClientError, DriverClient
from winjobs.wire import (
    FailureEvidence,
    FailureKind,
    SharedCompletion,
    TaskAssignment,
    TaskFailure,
)
from winjobs.worker.retry import Backoff, RetryAborted, retry_transient
from winjobs.worker.runner import StopReason, StopRequest
from winjobs.worker.shutdown import Interrupted, Shutdown

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    """A checked run, zipped, waiting to be accepted by the driver."""

    run_zip: Path
    log_tail: str


@dataclass(frozen=True)
class SharedDone:
    """Shared mode: a checked run left in this worker's shared output folder."""

    run: Path  #: the run folder here
    run_path: str  #: the same folder as the driver reaches it
    log_tail: str


@dataclass(frozen=True)
class Failure:
    reason: str
    log_tail: str = ""
    release: bool = False  #: not the task's fault: the attempt is not counted
    #: whose fault it looks like, and what shows it (`diagnosis`); the driver decides
    kind: FailureKind = FailureKind.UNKNOWN
    evidence: FailureEvidence = field(default_factory=FailureEvidence)


@dataclass(frozen=True)
class Dropped:
    """The driver took the task back (cancelled, re-assigned): nothing to report."""

    reason: str


Report = Upload | SharedDone | Failure | Dropped


def _stop_when(stop: StopRequest) -> Callable[[int, int | None], None]:
    """An upload progress callback that ends the upload once the attempt must stop
    (cancelled, re-assigned, second Ctrl-C): a large run need not finish streaming."""

    def check(done: int, total: int | None) -> None:
        if stop.is_set():
            raise RetryAborted(f"upload stopped: {stop.reason.value if stop.reason else ''}")

    return check


class Reporter:
    """Sends reports for one worker (its client, backoff and shutdown state)."""

    def __init__(
        self,
        client: DriverClient,
        backoff: Backoff,
        shutdown: Shutdown,
        retry_limit_s: float,
    ) -> None:
        self.client = client
        self.backoff = backoff
        self.shutdown = shutdown
        #: how long a report is retried while the driver is down or answers 5xx
        self.retry_limit_s = retry_limit_s

    def send(self, assignment: TaskAssignment, report: Report, stop: StopRequest) -> bool:
        """Deliver the attempt's report; never raises on the driver's account.

        Returns True when the driver accepted the attempt's output.
        """
        task = assignment.task_id
        if isinstance(report, Dropped):
            log.info("task %d dropped: %s", task, report.reason)
            return False
        try:
            if isinstance(report, Upload):
                failure = self._upload(assignment, report, stop)
            elif isinstance(report, SharedDone):
                failure = self._complete_shared(assignment, report, stop)
            else:
                failure = report
            if failure is None:
                return True
            self._fail(assignment, failure, stop)
        except ClientError as exc:
            if exc.is_conflict:
                log.warning("task %d: the driver refused the report (%s): dropped", task, exc)
            else:
                log.error("task %d: the driver refused the report: %s", task, exc)
        except (RetryAborted, Interrupted):
            why = stop.reason.value if stop.reason else "the worker is stopping"
            log.warning("task %d: report abandoned: %s", task, why)
            if self.shutdown.abort.is_set():
                self._release_quietly(assignment)
        return False

    def _upload(
        self, assignment: TaskAssignment, report: Upload, stop: StopRequest
    ) -> Failure | None:
        """Upload the output; a Failure to report instead if the driver kept failing."""
        try:
            with self.shutdown.interruptible(on_drain=False):
                retry_transient(
                    lambda: self.client.complete_task_upload(
                        assignment.task_id,
                        assignment.attempt,
                        report.run_zip,
                        report.log_tail,
                        progress=_stop_when(stop),
                    ),
                    what=f"upload of task {assignment.task_id}",
                    backoff=self.backoff,
                    abort=stop,
                    give_up_after_s=self.retry_limit_s,
                )
        except ClientError as exc:
            if exc.status_code == 422:  # the driver checked the run and refused it
                return Failure(f"the driver refused the output: {exc}", report.log_tail)
            if not exc.is_transient:
                raise
            # A driver that fails on this upload again and again (not just down) would
            # otherwise hold the task forever while the heartbeats keep its lease alive.
            return Failure(f"the driver did not take the output: {exc}", report.log_tail)
        log.info("task %d: output accepted by the driver", assignment.task_id)
        return None

    def _complete_shared(
        self, assignment: TaskAssignment, report: SharedDone, stop: StopRequest
    ) -> Failure | None:
        """Tell the driver where the run is; a Failure to report instead if it refused it."""
        completion = SharedCompletion(
            attempt=assignment.attempt, run_path=report.run_path, log_tail=report.log_tail
        )
        try:
            with self.shutdown.interruptible(on_drain=False):
                retry_transient(
                    lambda: self.client.complete_task_shared(assignment.task_id, completion),
                    what=f"shared completion of task {assignment.task_id}",
                    backoff=self.backoff,
                    abort=stop,
                    give_up_after_s=self.retry_limit_s,
                )
        except ClientError as exc:
            if exc.status_code == 422:  # bad path, or the run failed the driver's check
                return Failure(f"the driver refused the output: {exc}", report.log_tail)
            if not exc.is_transient:
                raise
            return Failure(f"the driver did not take the output: {exc}", report.log_tail)
        log.info("task %d: output accepted by the driver (%s)", assignment.task_id, report.run_path)
        return None

    def _fail(self, assignment: TaskAssignment, report: Failure, stop: StopRequest) -> None:
        verb = "handing back" if report.release else f"reporting failure ({report.kind}) of"
        log.warning("%s task %d: %s", verb, assignment.task_id, report.reason)
        failure = TaskFailure(
            attempt=assignment.attempt,
            reason=report.reason,
            log_tail=report.log_tail,
            release=report.release,
            kind=report.kind,
            evidence=report.evidence,
        )
        # A release at shutdown is tried once: the operator is waiting, and the lease
        # expiry returns the task anyway.
        if report.release and self.shutdown.abort.is_set():
            self.client.fail_task(assignment.task_id, failure)
            return
        retry_transient(
            lambda: self.client.fail_task(assignment.task_id, failure),
            what=f"failure report of task {assignment.task_id}",
            backoff=self.backoff,
            abort=stop,
            give_up_after_s=self.retry_limit_s,
        )

    def _release_quietly(self, assignment: TaskAssignment) -> None:
        failure = TaskFailure(
            attempt=assignment.attempt, reason=StopReason.SHUTDOWN.value, release=True
        )
        try:
            self.client.fail_task(assignment.task_id, failure)
        except ClientError as exc:
            log.info(
                "task %d: could not hand it back (%s); its lease will expire",
                assignment.task_id,
                exc,
            )

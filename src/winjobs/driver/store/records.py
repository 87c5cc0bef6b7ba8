"""What the store takes and gives: plain records, no database types."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from winjobs.driver.settings import ChunkPolicy
from winjobs.driver.speculation import SpeculationRule
from winjobs.wire import FailureKind, JobStatus, TaskStatus

Clock = Callable[[], datetime]
ACTIVE_JOB = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
OPEN_TASK = (TaskStatus.QUEUED.value, TaskStatus.RUNNING.value)


def utcnow() -> datetime:
    return datetime.now(UTC)


def describe_years(years: Sequence[int]) -> str:
    """0-based years as users read them: 1-based, runs collapsed (`3-5, 9`)."""
    shown = sorted(y + 1 for y in years)
    parts: list[str] = []
    start = prev = shown[0] if shown else 0
    for year in [*shown[1:], None]:
        if year is not None and year == prev + 1:
            prev = year
            continue
        parts.append(f"{start}-{prev}" if prev > start else f"{start}")
        if year is not None:
            start = prev = year
    return ", ".join(parts) if shown else "none"


@dataclass(frozen=True)
class NewJob:
    """A validated submission, as stored."""

    name: str
    submitter: str
    priority: int
    study_name: str
    study_sha256: str
    study_size: int
    antares_version: str
    mode: str
    years: list[int]
    splittable: bool
    task_time_limit_s: float | None
    warnings: list[str]
    #: whom to tell when it ends (`wire.parse_notify_target` forms)
    notify: Sequence[str] = ()


@dataclass(frozen=True)
class HeldTask:
    """What a running attempt holds: its job, its years, the solver version it got."""

    job_id: int
    years: list[int]
    solver_version: str | None
    started_at: datetime | None = None  #: when the attempt was claimed
    copy: bool = False  #: the attempt is a speculative copy (`models.TaskCopy`)


@dataclass(frozen=True)
class ClaimPolicy:
    chunk_policy: ChunkPolicy
    lease_seconds: float
    worker_offline_s: float
    #: failures in a row that put a worker on hold (0: never; `failure_policy`)
    hold_after_failures: int = 3
    #: a task suspended this long may go to a worker that finds no other work (None: never)
    reassign_suspended_after_s: float | None = None
    #: speculative copies of slow tasks for workers that find no other work (None: never)
    speculation: SpeculationRule | None = None


@dataclass(frozen=True)
class PolicyStatus:
    """A worker's owner-policy state as it reported it (registration, claim, heartbeat);
    all None: a worker that reports none."""

    state: str | None = None
    reason: str | None = None
    next_work_at: datetime | None = None


NO_POLICY = PolicyStatus()


@dataclass(frozen=True)
class Claimed:
    task_id: int
    job_id: int
    attempt: int
    years: list[int]
    antares_version: str
    solver_version: str
    study_sha256: str
    study_size: int
    study_name: str
    time_limit_s: float | None
    worker_name: str
    lease_until: datetime
    #: a task taken over from a worker whose solver was suspended: that worker, and since when
    taken_from: str | None = None
    suspended_since: datetime | None = None
    #: a speculative copy: the original attempt it copies, its worker, how far behind
    copy_of: int | None = None
    copy_of_worker: str | None = None
    behind: float | None = None


@dataclass(frozen=True)
class Beat:
    cancel: bool
    lease_until: datetime


@dataclass(frozen=True)
class FailureRules:
    """The settings the failure path applies (`failure_policy`)."""

    max_attempts: int
    hold_after_failures: int = 3
    worker_offline_s: float = 90.0


@dataclass(frozen=True)
class FailureReport:
    """A failed attempt as the store records it (a lease expiry is one too)."""

    reason: str
    log_tail: str = ""
    #: given back without fault (shutdown, low disk): not a failure, nothing recorded
    release: bool = False
    kind: FailureKind = FailureKind.UNKNOWN
    fingerprint: str | None = None  #: `failure_policy.fingerprint` of its evidence
    crashed: bool = False  #: the solver died of a signal or a crash status


class FailOutcome(StrEnum):
    RELEASED = "released"  #: given back, not counted
    REQUEUED = "requeued"  #: will be tried again (counted or not: `TaskEvent.counted`)
    JOB_FAILED = "job_failed"  #: reached max_attempts, or the study's error: the job failed
    #: nobody but the workers that failed it can run it now: they may try again
    REOPENED = "reopened"
    #: a speculative copy failed or was given back: the original runs on
    COPY_ENDED = "copy_ended"
    #: the original failed or lost its lease while its copy ran: the copy goes on as the
    #: task's attempt (not counted: the years are still being computed)
    COPY_PROMOTED = "copy_promoted"


@dataclass(frozen=True)
class TaskEvent:
    """What a failure or lease expiry did, for the job log and the work signal."""

    task_id: int
    job_id: int
    years: list[int]
    outcome: FailOutcome
    reason: str
    worker: str | None = None  #: the worker whose attempt it was
    counted: bool = True  #: added to the task's failures (towards max_attempts)
    avoided: bool = False  #: its next attempt goes to another worker
    held: str | None = None  #: the worker was put on hold by this failure: why


@dataclass(frozen=True)
class Progress:
    years_done: int
    tasks_running: int


@dataclass(frozen=True)
class Counts:
    jobs: dict[str, int]
    tasks: dict[str, int]

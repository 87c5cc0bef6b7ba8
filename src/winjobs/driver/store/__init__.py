"""The only place that issues SQL: every read and write of jobs, tasks and workers.

Each public method is one transaction. Writers are serialised: on SQLite by `BEGIN
IMMEDIATE` plus an in-process lock (no busy-wait sleeps under contention); on PostgreSQL
by row locks taken in one order (worker, job, tasks), with `FOR UPDATE SKIP LOCKED` to
pick queued tasks. Every state change of a task is a conditional UPDATE whose row count
is checked, so a stale report (old fencing token) changes nothing.

The scheduling decisions come from `scheduler` (pure); the store gathers its facts and
applies its answers. The parts: `claims` (the hot path), `reports` (heartbeat, complete,
fail, lease sweep), `failures` (failed attempts judged by `failure_policy`, failing
workers' streaks and holds), `jobs`, `workers` (and the start-up/overview queries),
`admin` (an admin's hold, drain, forget), `overview` (the queue's facts for the
why-pending reasons, task timings, load samples), `retention` (removing finished jobs,
keeping a summary), `outbox` and `notifications` (job-end messages: recorded with the
ending, then delivered by the sender).
"""

from __future__ import annotations

from winjobs.driver.store.admin import AdminStore
from winjobs.driver.store.claims import ClaimStore, claim_in
from winjobs.driver.store.jobs import JobStore, WaitingWork
from winjobs.driver.store.notifications import DueNotification, NotificationStore
from winjobs.driver.store.overview import OverviewStore, QueueRows, RunningTask
from winjobs.driver.store.records import (
    ACTIVE_JOB,
    OPEN_TASK,
    Beat,
    Claimed,
    ClaimPolicy,
    Clock,
    Counts,
    FailOutcome,
    FailureReport,
    FailureRules,
    HeldTask,
    NewJob,
    PolicyStatus,
    Progress,
    TaskEvent,
    describe_years,
    utcnow,
)
from winjobs.driver.store.reports import (
    ReportStore,
    accepted_in,
    complete_in,
    heartbeat_in,
    held_in,
)
from winjobs.driver.store.retention import FinishedJob, RetentionStore
from winjobs.driver.store.workers import Registration, WorkerStore
from winjobs.driver.store.writer import Tx

__all__ = [
    "ACTIVE_JOB",
    "OPEN_TASK",
    "Beat",
    "ClaimPolicy",
    "Claimed",
    "Clock",
    "Counts",
    "DueNotification",
    "FailOutcome",
    "FailureReport",
    "FailureRules",
    "FinishedJob",
    "HeldTask",
    "NewJob",
    "PolicyStatus",
    "Progress",
    "QueueRows",
    "Registration",
    "RunningTask",
    "Store",
    "TaskEvent",
    "Tx",
    "WaitingWork",
    "accepted_in",
    "claim_in",
    "complete_in",
    "describe_years",
    "heartbeat_in",
    "held_in",
    "utcnow",
]


class Store(
    OverviewStore,
    ClaimStore,
    ReportStore,
    JobStore,
    WorkerStore,
    RetentionStore,
    AdminStore,
    NotificationStore,
):
    """Transactions over the driver's database. Thread-safe; one instance per app."""

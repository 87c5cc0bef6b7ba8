"""Prometheus text exposition of the driver's state, written by hand (a few lines of the
format do not justify a dependency).

Gauges are read from the database at scrape time; the claim latency histogram and the
claim counters live in memory (they restart at zero with the driver, as Prometheus
counters may).
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from winjobs.wire import FailureKind, JobStatus, PolicyState, PoolStatus, TaskStatus

#: upper bounds (seconds) of the claim latency buckets
CLAIM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: upper bounds (seconds) of the task duration buckets: a minute to a day
DURATION_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400)
#: upper bounds (seconds) of the output assembly buckets: a second to four hours
ASSEMBLY_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 14400)
#: upper bounds (bytes) of the upload size buckets: 1 MB to 10 GB
UPLOAD_BUCKETS = (10**6, 10**7, 10**8, 5 * 10**8, 10**9, 5 * 10**9, 10**10)
#: the failure reasons always listed (with 0), so a dashboard's query finds them
FAILURE_REASONS = (*(k.value for k in FailureKind), "released", "lease_expired")


class Histogram:
    """A Prometheus histogram kept in memory (thread-safe)."""

    def __init__(self, name: str, help_text: str, buckets: Sequence[float]) -> None:
        self.name = name
        self.help_text = help_text
        self.bounds = tuple(buckets)
        self._lock = threading.Lock()
        self._buckets = [0] * (len(self.bounds) + 1)
        self._sum = 0.0

    def observe(self, value: float) -> None:
        with self._lock:
            self._buckets[bisect.bisect_left(self.bounds, value)] += 1
            self._sum += value

    def lines(self) -> list[str]:
        with self._lock:
            buckets, total_sum = list(self._buckets), self._sum
        name = self.name
        lines = [f"# HELP {name} {self.help_text}", f"# TYPE {name} histogram"]
        cumulative = 0
        for bound, count in zip(self.bounds, buckets, strict=False):
            cumulative += count
            lines.append(f'{name}_bucket{{le="{bound}"}} {cumulative}')
        cumulative += buckets[-1]
        lines.append(f'{name}_bucket{{le="+Inf"}} {cumulative}')
        lines.append(f"{name}_sum {total_sum:.6f}")
        lines.append(f"{name}_count {cumulative}")
        return lines


class ClaimStats:
    """Time the driver spends on one claim attempt (not the long-poll wait)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.latency = Histogram(
            "winjobs_claim_latency_seconds", "Time to serve one claim attempt.", CLAIM_BUCKETS
        )
        self.assigned = 0  #: claims answered with a task
        self.empty = 0  #: claims answered 204 (no work within the wait)

    def observe(self, seconds: float) -> None:
        self.latency.observe(seconds)

    def count_result(self, assigned: bool) -> None:
        with self._lock:
            if assigned:
                self.assigned += 1
            else:
                self.empty += 1


class TaskStats:
    """What the tasks (and the assemblies of their outputs) did since the driver started:
    counted once each, where it happens (a completion recorded, a failure report judged, a
    lease found expired, an output assembled), never derived from rows that a retry or a
    clean-up could change or remove."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.years_done = 0  #: years of the tasks that succeeded
        self.finished = 0  #: attempts that succeeded
        self.failed: Counter[str] = Counter()  #: failed attempts by reason
        self.duration = Histogram(
            "winjobs_task_duration_seconds",
            "Run time of the attempts that succeeded (claim to completion).",
            DURATION_BUCKETS,
        )
        self.upload = Histogram(
            "winjobs_task_upload_bytes", "Size of the task outputs uploaded.", UPLOAD_BUCKETS
        )
        #: the wait between a job's last year done and its output ready, of the jobs that
        #: succeeded: what to look at when jobs stay "running" with every year done
        self.assembly = Histogram(
            "winjobs_assembly_duration_seconds",
            "Time to assemble the output of the jobs that succeeded (merge and result zip).",
            ASSEMBLY_BUCKETS,
        )

    def succeeded(self, years: int, seconds: float | None) -> None:
        with self._lock:
            self.years_done += years
            self.finished += 1
        if seconds is not None:
            self.duration.observe(seconds)

    def failure(self, reason: str) -> None:
        """`reason`: the failure kind the worker reported (`study`, `machine`,
        `unknown`), `released` (given back) or `lease_expired` (the sweeper's)."""
        with self._lock:
            self.failed[reason] += 1


def _gauge(name: str, help_text: str, label: str, values: Iterable[tuple[str, int]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    lines += [f'{name}{{{label}="{key}"}} {value}' for key, value in values]
    return lines


def _counter(name: str, help_text: str, label: str, values: Iterable[tuple[str, int]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
    lines += [f'{name}{{{label}="{key}"}} {value}' for key, value in values]
    return lines


def _single(name: str, kind: str, help_text: str, value: int) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value}"]


def render(
    jobs: Mapping[str, int],
    tasks: Mapping[str, int],
    pool: PoolStatus,
    claims: ClaimStats,
    stats: TaskStats,
    claims_waiting: int = 0,
    policies: Mapping[str, int] | None = None,
) -> str:
    """The whole /metrics page; every status appears, with 0 when it has no member.

    The workers by state, the cores and the queue come from `pool` (what `winjobs status`
    shows): one row per worker, so a worker is never counted twice."""
    lines = _gauge(
        "winjobs_jobs", "Jobs by status.", "status", ((s, jobs.get(s, 0)) for s in JobStatus)
    )
    lines += _gauge(
        "winjobs_tasks", "Tasks by status.", "status", ((s, tasks.get(s, 0)) for s in TaskStatus)
    )
    by_state = {
        "idle": pool.workers_idle,
        "busy": pool.workers_busy,
        "draining": pool.workers_draining,
        "held": pool.workers_held,
        "offline": pool.workers_offline,
    }
    lines += _gauge("winjobs_workers", "Registered workers by state.", "state", by_state.items())
    lines += _single(
        "winjobs_cores_busy", "gauge", "Cores of the workers running a task.", pool.cores_busy
    )
    lines += _single(
        "winjobs_cores_total", "gauge", "Cores of the online workers.", pool.cores_total
    )
    lines += _single(
        "winjobs_queue_years",
        "gauge",
        "Years of the queued and running jobs not done yet.",
        pool.years_left,
    )
    lines += _single(
        "winjobs_claims_waiting", "gauge", "Claims long-polling for work now.", claims_waiting
    )
    lines += _counter(
        "winjobs_claims_total",
        "Claims answered, by result.",
        "result",
        (("task", claims.assigned), ("empty", claims.empty)),
    )
    lines += claims.latency.lines()
    lines += _single(
        "winjobs_years_done_total",
        "counter",
        "Years of the tasks that succeeded since the driver started.",
        stats.years_done,
    )
    lines += _single(
        "winjobs_tasks_finished_total",
        "counter",
        "Task attempts that succeeded since the driver started.",
        stats.finished,
    )
    reasons = sorted(set(FAILURE_REASONS) | set(stats.failed))
    lines += _counter(
        "winjobs_tasks_failed_total",
        "Task attempts that failed since the driver started, by reason.",
        "reason",
        ((r, stats.failed.get(r, 0)) for r in reasons),
    )
    lines += stats.duration.lines()
    lines += stats.upload.lines()
    lines += stats.assembly.lines()
    policies = policies or {}
    lines += _gauge(
        "winjobs_workers_policy",
        "Online workers by the state of their owner's policy (workers that report one).",
        "state",
        ((s, policies.get(s, 0)) for s in PolicyState),
    )
    return "\n".join(lines) + "\n"

"""Prometheus text exposition of the driver's state, written by hand (a few lines of the
format do not justify a dependency).

Gauges are read from the database at scrape time; the claim latency histogram and the
claim counters live in memory (they restart at zero with the driver, as Prometheus
counters may).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Mapping

from winjobs.wire import JobStatus, PolicyState, TaskStatus, WorkerState

#: upper bounds (seconds) of the claim latency buckets
CLAIM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ClaimStats:
    """Time the driver spends on one claim attempt (not the long-poll wait)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets = [0] * (len(CLAIM_BUCKETS) + 1)
        self._sum = 0.0
        self.assigned = 0  #: claims answered with a task
        self.empty = 0  #: claims answered 204 (no work within the wait)

    def observe(self, seconds: float) -> None:
        with self._lock:
            self._buckets[bisect.bisect_left(CLAIM_BUCKETS, seconds)] += 1
            self._sum += seconds

    def count_result(self, assigned: bool) -> None:
        with self._lock:
            if assigned:
                self.assigned += 1
            else:
                self.empty += 1

    def histogram_lines(self, name: str) -> list[str]:
        with self._lock:
            buckets, total_sum = list(self._buckets), self._sum
        lines = [f"# HELP {name} Time to serve one claim attempt.", f"# TYPE {name} histogram"]
        cumulative = 0
        for bound, count in zip(CLAIM_BUCKETS, buckets, strict=False):
            cumulative += count
            lines.append(f'{name}_bucket{{le="{bound}"}} {cumulative}')
        cumulative += buckets[-1]
        lines.append(f'{name}_bucket{{le="+Inf"}} {cumulative}')
        lines.append(f"{name}_sum {total_sum:.6f}")
        lines.append(f"{name}_count {cumulative}")
        return lines


def _gauge(name: str, help_text: str, label: str, values: Iterable[tuple[str, int]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    lines += [f'{name}{{{label}="{key}"}} {value}' for key, value in values]
    return lines


def render(
    jobs: Mapping[str, int],
    tasks: Mapping[str, int],
    workers: Mapping[str, int],
    claims: ClaimStats,
    claims_waiting: int = 0,
    policies: Mapping[str, int] | None = None,
) -> str:
    """The whole /metrics page; every status appears, with 0 when it has no member."""
    lines = _gauge(
        "winjobs_jobs", "Jobs by status.", "status", ((s, jobs.get(s, 0)) for s in JobStatus)
    )
    lines += _gauge(
        "winjobs_tasks", "Tasks by status.", "status", ((s, tasks.get(s, 0)) for s in TaskStatus)
    )
    lines += _gauge(
        "winjobs_workers",
        "Registered workers by state.",
        "state",
        ((s, workers.get(s, 0)) for s in WorkerState),
    )
    policies = policies or {}
    lines += _gauge(
        "winjobs_workers_policy",
        "Online workers by the state of their owner's policy (workers that report one).",
        "state",
        ((s, policies.get(s, 0)) for s in PolicyState),
    )
    lines += [
        "# HELP winjobs_claims_waiting Claims long-polling for work now.",
        "# TYPE winjobs_claims_waiting gauge",
        f"winjobs_claims_waiting {claims_waiting}",
        "# HELP winjobs_claims_total Claims answered, by result.",
        "# TYPE winjobs_claims_total counter",
        f'winjobs_claims_total{{result="task"}} {claims.assigned}',
        f'winjobs_claims_total{{result="empty"}} {claims.empty}',
    ]
    lines += claims.histogram_lines("winjobs_claim_latency_seconds")
    return "\n".join(lines) + "\n"

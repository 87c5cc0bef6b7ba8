"""Discrete-event simulation of a month of a shared pool under the driver's queue orders.

Five users with uneven habits submit jobs for 30 days to a pool of workers; each time a
worker is free it claims, and the job it gets is chosen by the REAL
`winjobs.driver.scheduler.pick` in the REAL `winjobs.driver.fairshare.ranking` order,
with each user's usage kept as the store keeps it (`fairshare.settled` whenever one of
their tasks starts or ends). A task is one round of the worker's cores (the `cores`
chunk rule, the real `chunk_size`): as many years as it has cores, run side by side,
as long as the job's year time.

The users (times in UTC, a month starting on a Monday):

- `flood`: twice a week (Monday and Thursday, 9:00) a batch of 10 high-priority (70) jobs
  of 200 years of 20 min: 667 core-hours each batch;
- `daily`: three small jobs every working day (10:00, 14:00, 16:00), 16 years of 10 min;
- `weekend`: a burst every Sunday at 20:00 (for Monday morning), 40 jobs of 100 years
  of 30 min, at the priority of the daily and steady users: 2000 core-hours;
- `steady`: a job every two hours of the working day (8:00 to 18:00), 48 years of 15 min;
- `background`: a big low-priority (20) job every Monday at 8:00, 1000 years of 30 min.

Submission times are jittered by up to 30 minutes and year times by 20 % (seeded). A
job's wait is from its submission to its first task's start. Printed per user: jobs, and
the median, 90th percentile and maximum wait (hours) under each order: `strict`
(priority, then first come first served: the original), `fair share`, each without and
with aging (the driver's defaults: 1 point per hour, at most 50; the default order is
fair share + aging).

Run: `uv run python benchmarks/sim_fairshare.py` (options: --workers, --cores, --days,
--seed). docs/driver.md ("Fair share and aging") shows its table.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from winjobs.driver.fairshare import (
    DAY,
    HOUR,
    NO_USAGE,
    STRICT,
    OrderRules,
    Usage,
    ranking,
    settled,
)
from winjobs.driver.scheduler import ChunkFacts, JobFacts, Pool, chunk_size, pick
from winjobs.driver.settings import ChunkPolicy, Scheduling

MINUTE = 60.0
#: the driver's default aging: 1 point per hour, at most 50
PER_HOUR, MAX_POINTS = 1.0, 50
ORDERS = {
    "strict": STRICT,
    "strict + aging": OrderRules(Scheduling.STRICT, aging_per_hour=PER_HOUR, aging_max=MAX_POINTS),
    "fair share": OrderRules(),
    "fair share + aging": OrderRules(aging_per_hour=PER_HOUR, aging_max=MAX_POINTS),
}


@dataclass(frozen=True)
class Submission:
    at: float  #: seconds since the month began
    user: str
    priority: int
    years: int
    year_s: float


@dataclass
class Job:
    id: int
    submission: Submission
    unassigned: int
    started_at: float | None = None

    def facts(self) -> JobFacts:
        sub = self.submission
        return JobFacts(
            self.id,
            sub.priority,
            "8.8",
            None,
            0,
            self.unassigned,
            user=sub.user,
            submitted_at=sub.at,
        )


def _habits(day: int) -> Iterator[tuple[str, float, int, int, float, int]]:
    """(user, hour, priority, years, minutes per year, how many) submitted on `day`
    (0 = a Monday)."""
    weekday = day % 7
    if weekday in (0, 3):
        yield ("flood", 9, 70, 200, 20, 10)
    if weekday < 5:
        for hour in (10, 14, 16):
            yield ("daily", hour, 50, 16, 10, 1)
        for hour in range(8, 18, 2):
            yield ("steady", hour, 50, 48, 15, 1)
    if weekday == 6:
        yield ("weekend", 20, 50, 100, 30, 40)
    if weekday == 0:
        yield ("background", 8, 20, 1000, 30, 1)


def month(days: int, seed: int) -> list[Submission]:
    rng = random.Random(seed)
    found = []
    for day in range(days):
        for user, hour, priority, years, minutes, count in _habits(day):
            start = day * DAY + hour * HOUR + rng.uniform(0, 30 * MINUTE)
            for i in range(count):
                year_s = minutes * MINUTE * rng.uniform(0.8, 1.2)
                found.append(Submission(start + i, user, priority, years, year_s))
    return sorted(found, key=lambda s: s.at)


@dataclass
class Simulation:
    """One run of the month under one order."""

    workers: int
    cores: int
    rules: OrderRules
    jobs: list[Job] = field(default_factory=list)
    usage: dict[str, Usage] = field(default_factory=dict)
    running: dict[str, int] = field(default_factory=dict)  #: cores per user

    def _settle(self, user: str, cores: int, now: float) -> None:
        self.running[user] = self.running.get(user, 0) + cores
        before = self.usage.get(user, NO_USAGE)
        self.usage[user] = settled(before, self.running[user], now, self.rules.half_life_s)

    def _claim(self, now: float) -> tuple[Job, int] | None:
        active = [job for job in self.jobs if job.unassigned > 0]
        queue = [job.facts() for job in active]
        decision = pick(queue, ["8.8"], ranking(self.usage, now, self.rules, queue))
        if decision is None:
            return None
        job = next(j for j in active if j.id == decision.job_id)
        pool = Pool(cores=self.workers * self.cores, workers=self.workers)
        facts = ChunkFacts(unassigned=job.unassigned, free_cores=self.cores, pool=pool)
        years = chunk_size(ChunkPolicy.CORES, facts)
        job.unassigned -= years
        if job.started_at is None:
            job.started_at = now
        return job, years

    def run(self, submissions: Sequence[Submission]) -> list[Job]:
        # events: (time, order, kind, worker or submission index)
        events: list[tuple[float, int, str, int]] = [
            (sub.at, i, "submit", i) for i, sub in enumerate(submissions)
        ]
        heapq.heapify(events)
        free = list(range(self.workers))
        holding: dict[int, str] = {}
        tick = len(submissions)
        while events:
            now = events[0][0]
            while events and events[0][0] == now:
                _, _, kind, index = heapq.heappop(events)
                if kind == "submit":
                    sub = submissions[index]
                    self.jobs.append(Job(len(self.jobs) + 1, sub, sub.years))
                else:
                    self._settle(holding.pop(index), -self.cores, now)
                    free.append(index)
            while free:
                claimed = self._claim(now)
                if claimed is None:
                    break
                job, _years = claimed
                worker = free.pop()
                holding[worker] = job.submission.user
                self._settle(job.submission.user, self.cores, now)
                tick += 1
                heapq.heappush(events, (now + job.submission.year_s, tick, "end", worker))
        return self.jobs


def waits_by_user(jobs: Sequence[Job]) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for job in jobs:
        assert job.started_at is not None, f"job {job.id} never started"
        found.setdefault(job.submission.user, []).append(job.started_at - job.submission.at)
    return found


def summary(waits: Sequence[float]) -> tuple[float, float, float]:
    """Median, 90th percentile and maximum, in hours."""
    ordered = sorted(waits)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return statistics.median(ordered) / HOUR, p90 / HOUR, ordered[-1] / HOUR


def compare(workers: int, cores: int, days: int, seed: int) -> dict[str, dict[str, list[float]]]:
    submissions = month(days, seed)
    return {
        name: waits_by_user(Simulation(workers, cores, rules).run(submissions))
        for name, rules in ORDERS.items()
    }


USERS = ("flood", "daily", "steady", "weekend", "background")


def table(results: dict[str, dict[str, list[float]]]) -> str:
    names = list(results)
    users = [user for user in USERS if user in next(iter(results.values()))]
    head = f"{'user':<11}{'jobs':>5} | " + " | ".join(f"{n:^22}" for n in names)
    sub = f"{'':<16} | " + " | ".join(f"{'median':>7}{'p90':>7}{'max':>8}" for _ in names)
    lines = [head, sub, "-" * len(sub)]
    for user in users:
        cells = []
        for name in names:
            median, p90, top = summary(results[name][user])
            cells.append(f"{median:>6.1f}h{p90:>6.1f}h{top:>7.1f}h")
        count = len(results[names[0]][user])
        lines.append(f"{user:<11}{count:>5} | " + " | ".join(cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--cores", type=int, default=8, help="cores per worker")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results = compare(args.workers, args.cores, args.days, args.seed)
    print(
        f"{args.days} days, {args.workers} workers of {args.cores} cores, seed {args.seed}: "
        "wait from submission to the first task's start, per user"
    )
    print(table(results))


if __name__ == "__main__":
    main()

"""Makespan of one 96-year job on 4 workers, for the driver's chunk policies.

Real driver (`winjobs driver`, SQLite) and 4 `winjobs worker` processes on loopback, the
stand-in solver sleeping a given time per MC year (`WINJOBS_STANDIN_SECONDS_PER_YEAR`,
a list for uneven years). Prints makespan / ideal, where ideal = total year time / total
cores, for the driver's `balanced` policy and the original tool's `cores` (chunk = free
cores), in three cases:

- even: 4 workers x 4 cores, every year takes S seconds;
- uneven years: 4 x 4 cores, year times spread over [0.4 S, 1.6 S] (mean S);
- uneven workers: 8, 4, 2, 2 cores, every year S seconds.

Makespan runs from the first claim to the last task's report (years done); the output
assembly that follows is the merge's business and is printed apart. The solver runs
`--force-parallel` years at a time in batches, like the real one, so a batch lasts as
long as its slowest year: with uneven years no policy can reach the ideal, and the
`batched` column prints a lower bound that counts the batches (see `batched_bound`).

The study is the bundled example with year-by-year output off, so a task's output (and
the fixed per-task cost: solver start, zip, upload, the driver's check) does not grow
with its years. The per-task overhead measured in the same run is printed (a task's wall
time beyond its batched years: claim, staging, solver start-up, check, zip, upload; the
worker uploads while its next task already runs, so part of it is hidden); S must be
large against it for the ratio to speak of the policy rather than of the overhead. On
this 2-core machine the 16 emulated cores only sleep, but the per-task work of four
workers and the driver competes for two real cores: the overhead printed is inflated
compared with one worker per machine.

Run: `uv run python benchmarks/bench_makespan.py [--seconds-per-year 10]`.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.harness import (
    Driver,
    Worker,
    make_study,
    standin_solver,
    submit,
    wait_final,
    wait_until,
)

from winjobs.antares.ini import IniDocument
from winjobs.wire import JobDetail, JobStatus, TaskStatus

YEARS = 96


@dataclass(frozen=True)
class Case:
    name: str
    cores: tuple[int, ...]
    uneven_years: bool


CASES = (
    Case("even", (4, 4, 4, 4), False),
    Case("uneven years", (4, 4, 4, 4), True),
    Case("uneven workers", (8, 4, 2, 2), False),
)


def year_times(seconds: float, uneven: bool, years: int = YEARS) -> list[float]:
    """Deterministic spread in [0.4 S, 1.6 S] with mean S (a fixed permutation of steps)."""
    if not uneven:
        return [seconds] * years
    steps = [0.4 + 1.2 * ((7 * y) % years) / (years - 1) for y in range(years)]
    return [round(seconds * step, 3) for step in steps]


@dataclass
class Result:
    case: str
    policy: str
    tasks: int
    makespan_s: float
    assembly_s: float
    ideal_s: float
    batched_s: float  #: lower bound with the solver's batches (see `batched_bound`)
    overhead_s: float  #: mean per task: wall time minus the solver's batched year time

    @property
    def ratio(self) -> float:
        return self.makespan_s / self.ideal_s


def _batched_time(years: list[int], cores: int, times: list[float]) -> float:
    """What the solver needs for these years on `cores`: batches of `cores` years, each as
    long as its slowest year."""
    ordered = sorted(years)
    return sum(max(times[y] for y in ordered[i : i + cores]) for i in range(0, len(ordered), cores))


def batched_bound(times: list[float], cores: tuple[int, ...]) -> float:
    """A lower bound on the makespan once the solver's batches are counted: every worker
    runs batches of its cores' worth of consecutive years, each as long as its slowest
    year, and the batch time is spread evenly over the cores (uneven years only: with
    equal years it is the ideal)."""
    smallest = min(cores)
    batches = [
        max(times[i : i + smallest]) * len(times[i : i + smallest])
        for i in range(0, len(times), smallest)
    ]
    return sum(batches) / sum(cores)


def _study(root: Path) -> Path:
    study = make_study(root, YEARS)
    generaldata = study / "settings" / "generaldata.ini"
    document = IniDocument.read(generaldata)
    document.set("general", "year-by-year", "false")
    document.write(generaldata)
    return study


def run_case(root: Path, case: Case, policy: str, seconds: float) -> Result:
    times = year_times(seconds, case.uneven_years)
    solver = standin_solver(root / "bin")
    driver = Driver(
        root / f"driver-{policy}",
        settings={
            "chunk_policy": policy,
            "lease_seconds": 60,
            "heartbeat_interval_s": 2,
            "claim_max_wait_s": 10,
        },
    ).start()
    workers: list[Worker] = []
    try:
        env = {"WINJOBS_STANDIN_SECONDS_PER_YEAR": ",".join(str(t) for t in times)}
        for index, cores in enumerate(case.cores):
            worker = Worker(
                root / f"workers-{policy}",
                driver.url,
                f"w{index + 1}-{cores}c",
                solver,
                cores=cores,
                env=env,
                settings={"claim_wait_s": 10},
            )
            workers.append(worker.start())
        with driver.user() as client:
            wait_until(lambda: len(client.list_workers().workers) == len(workers), 60, "workers")
            job_id = submit(client, _study(root / f"study-{policy}"), root)
            job = wait_final(client, job_id, 3600)
        if job.status is not JobStatus.SUCCEEDED:
            raise SystemExit(f"{case.name}/{policy}: job {job.status}: {job.error}")
        return _measure(case, policy, job, times)
    finally:
        for worker in workers:
            worker.stop()
        driver.stop()


def _measure(case: Case, policy: str, job: JobDetail, times: list[float]) -> Result:
    done = [t for t in job.tasks if t.status is TaskStatus.SUCCEEDED]
    starts = [t.started_at for t in done if t.started_at is not None]
    ends = [t.finished_at for t in done if t.finished_at is not None]
    cores_of = {f"w{i + 1}-{c}c": c for i, c in enumerate(case.cores)}
    overheads = [
        (t.finished_at - t.started_at).total_seconds()
        - _batched_time(t.years, cores_of[t.worker or ""], times)
        for t in done
        if t.started_at is not None and t.finished_at is not None
    ]
    assert job.finished_at is not None
    return Result(
        case=case.name,
        policy=policy,
        tasks=len(done),
        makespan_s=(max(ends) - min(starts)).total_seconds(),
        assembly_s=(job.finished_at - max(ends)).total_seconds(),
        ideal_s=sum(times) / sum(case.cores),
        batched_s=batched_bound(times, case.cores),
        overhead_s=statistics.mean(overheads),
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so that the drivers and workers are stopped on the way out


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds-per-year", type=float, default=10.0)
    parser.add_argument("--cases", default="even,uneven years,uneven workers")
    parser.add_argument("--policies", default="balanced,cores")
    parser.add_argument("--keep", action="store_true", help="keep the logs and data folders")
    args = parser.parse_args()
    wanted = set(args.cases.split(","))
    policies = args.policies.split(",")
    root = Path(tempfile.mkdtemp(prefix="bench-makespan-"))
    print(f"{YEARS} years, S = {args.seconds_per_year:g} s/year, stand-in solver; {root}")
    print(
        f"{'case':<16}{'policy':<10}{'tasks':>6}{'makespan':>10}{'ideal':>8}"
        f"{'ratio':>7}{'batched':>9}{'ratio':>7}{'overhead/task':>15}{'assembly':>10}"
    )
    results: list[Result] = []
    try:
        for case in (c for c in CASES if c.name in wanted):
            for policy in policies:
                started = time.monotonic()
                result = run_case(
                    root / f"{case.name.replace(' ', '-')}", case, policy, args.seconds_per_year
                )
                results.append(result)
                print(
                    f"{result.case:<16}{result.policy:<10}{result.tasks:>6}"
                    f"{result.makespan_s:>9.1f}s{result.ideal_s:>7.1f}s{result.ratio:>7.3f}"
                    f"{result.batched_s:>8.1f}s{result.makespan_s / result.batched_s:>7.3f}"
                    f"{result.overhead_s:>14.2f}s{result.assembly_s:>9.1f}s"
                    f"   ({time.monotonic() - started:.0f} s wall)",
                    flush=True,
                )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    by_key = {(r.case, r.policy): r for r in results}
    for case in CASES:
        ours, theirs = by_key.get((case.name, "balanced")), by_key.get((case.name, "cores"))
        if ours and theirs:
            print(
                f"{case.name}: balanced {ours.ratio:.3f} vs cores {theirs.ratio:.3f} "
                f"(makespan {ours.makespan_s / theirs.makespan_s:.3f}x the original policy's)"
            )


if __name__ == "__main__":
    main()

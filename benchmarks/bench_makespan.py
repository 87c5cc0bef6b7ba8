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
with its years. Two per-task overheads measured in the same run are printed: `serial`,
what a task costs its worker's cores (from one claim to the worker's next claim, minus
the task's batched years: claim, staging, solver start-up and end), and `total`, a
task's whole wall time beyond its batched years (adds the check, zip and upload, which
the worker runs while its next task already runs). S must be large against them for the
ratio to speak of the policy rather than of the overhead. On this 2-core machine the 16
emulated cores only sleep, but the per-task work of four workers and the driver competes
for two real cores: the overheads are inflated compared with one worker per machine.

The `sim` column is what `sim_makespan.py` predicts for the same case and policy, given
the overheads measured in this run (mean of 20 simulated runs): where the two disagree,
the simulator misses something.

A policy `balanced+copies` runs `balanced` with speculative copies on (docs/driver.md,
"Speculative copies"): the line then also prints the copies started and the core-seconds
they held, as a share of the job's own (its year times).

Run: `uv run python benchmarks/bench_makespan.py [--seconds-per-year 10] [--runs 2]
[--policies balanced,balanced+copies]`.
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
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.waiting import wait_until
from tests.integration.harness import (
    Driver,
    Worker,
    make_study,
    standin_solver,
    submit,
    wait_final,
)

from benchmarks.sim_makespan import Overheads, Scenario, bench_uneven_years, real_policy, simulate
from winjobs.antares.ini import IniDocument
from winjobs.driver.settings import ChunkPolicy
from winjobs.driver.speculation import SpeculationRule
from winjobs.wire import JobDetail, JobStatus, TaskInfo, TaskStatus

YEARS = 96
HEARTBEAT_S = 2.0


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
    """Deterministic spread in [0.4 S, 1.6 S] with mean S (the simulator's pattern)."""
    return bench_uneven_years(years, seconds) if uneven else [seconds] * years


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
    serial_s: float  #: mean per task: claim to the worker's next claim, minus batched time
    predicted: float = 0.0  #: the simulator's makespan / ideal given these overheads
    copies: int = 0  #: speculative copies started
    copy_core_s: float = 0.0  #: core-seconds they held (until done or cancelled)

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
    """`policy`: a chunk policy, `+copies` for speculative copies on."""
    times = year_times(seconds, case.uneven_years)
    solver = standin_solver(root / "bin")
    chunks, _, extra = policy.partition("+")
    driver = Driver(
        root / f"driver-{policy}",
        settings={
            "chunk_policy": chunks,
            "lease_seconds": 60,
            "heartbeat_interval_s": HEARTBEAT_S,
            "claim_max_wait_s": 10,
            "speculative_copies": extra == "copies",
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


def _serial_overheads(
    done: list[TaskInfo], cores_of: dict[str, int], times: list[float]
) -> list[float]:
    """Per task but each worker's last: from its claim to the worker's next claim (the
    worker claims as soon as its solver exited), minus the task's batched years."""
    by_worker: dict[str, list[TaskInfo]] = {}
    for task in sorted(done, key=lambda t: t.started_at or t.created_at):
        by_worker.setdefault(task.worker or "", []).append(task)
    gaps = []
    for worker, tasks in by_worker.items():
        for task, following in pairwise(tasks):
            assert task.started_at is not None and following.started_at is not None
            gap = (following.started_at - task.started_at).total_seconds()
            gaps.append(gap - _batched_time(task.years, cores_of[worker], times))
    return gaps


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
    serial = _serial_overheads(done, cores_of, times) or overheads
    assert job.finished_at is not None
    copies = [t.speculative_copy for t in job.tasks if t.speculative_copy is not None]
    copy_core_s = sum(
        ((c.finished_at or job.finished_at) - c.started_at).total_seconds() * cores_of[c.worker]
        for c in copies
    )
    result = Result(
        case=case.name,
        policy=policy,
        tasks=len(done),
        makespan_s=(max(ends) - min(starts)).total_seconds(),
        assembly_s=(job.finished_at - max(ends)).total_seconds(),
        ideal_s=sum(times) / sum(case.cores),
        batched_s=batched_bound(times, case.cores),
        overhead_s=statistics.mean(overheads),
        serial_s=statistics.mean(serial),
        copies=len(copies),
        copy_core_s=copy_core_s,
    )
    result.predicted = predict(case, policy, times, result)
    return result


def predict(case: Case, policy: str, times: list[float], measured: Result) -> float:
    """The simulator's makespan / ideal for this case, given the measured overheads (the
    benchmark's heartbeat interval, the workers' claims within a few milliseconds)."""
    serial = max(0.0, measured.serial_s)
    overheads = Overheads(
        task_s=serial,
        finish_s=max(0.0, measured.overhead_s - serial),
        jitter=0.2,
        heartbeat_s=HEARTBEAT_S,
        start_spread_s=0.05,
        year_noise=0.005,
    )
    scenario = Scenario(case.name, case.cores, tuple(times), overheads)
    chunks, _, extra = policy.partition("+")
    choose = real_policy(ChunkPolicy(chunks))
    copies = SpeculationRule() if extra == "copies" else None
    return statistics.mean(
        simulate(scenario, choose, seed, copies=copies).ratio for seed in range(20)
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so that the drivers and workers are stopped on the way out


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds-per-year", type=float, default=10.0)
    parser.add_argument("--cases", default="even,uneven years,uneven workers")
    parser.add_argument("--policies", default="balanced,cores")
    parser.add_argument("--runs", type=int, default=1, help="runs of each case and policy")
    parser.add_argument("--keep", action="store_true", help="keep the logs and data folders")
    args = parser.parse_args()
    wanted = set(args.cases.split(","))
    policies = args.policies.split(",")
    root = Path(tempfile.mkdtemp(prefix="bench-makespan-"))
    print(f"{YEARS} years, S = {args.seconds_per_year:g} s/year, stand-in solver; {root}")
    print(
        f"{'case':<16}{'policy':<10}{'tasks':>6}{'makespan':>10}{'ideal':>8}"
        f"{'ratio':>7}{'sim':>7}{'batched':>9}{'ratio':>7}"
        f"{'overhead/task: serial':>23}{'total':>8}{'assembly':>10}"
    )
    results: list[Result] = []
    try:
        for run in range(args.runs):
            for case in (c for c in CASES if c.name in wanted):
                for policy in policies:
                    started = time.monotonic()
                    folder = root / f"{case.name.replace(' ', '-')}-{run + 1}"
                    result = run_case(folder, case, policy, args.seconds_per_year)
                    results.append(result)
                    print(
                        f"{result.case:<16}{result.policy:<10}{result.tasks:>6}"
                        f"{result.makespan_s:>9.1f}s{result.ideal_s:>7.1f}s{result.ratio:>7.3f}"
                        f"{result.predicted:>7.3f}"
                        f"{result.batched_s:>8.1f}s{result.makespan_s / result.batched_s:>7.3f}"
                        f"{result.serial_s:>22.2f}s{result.overhead_s:>7.2f}s"
                        f"{result.assembly_s:>9.1f}s   ({time.monotonic() - started:.0f} s wall)"
                        + _copies_text(result, case),
                        flush=True,
                    )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    _summary(results)


def _copies_text(result: Result, case: Case) -> str:
    if not result.policy.endswith("+copies"):
        return ""
    share = result.copy_core_s / (result.ideal_s * sum(case.cores))
    return f"  copies {result.copies}, {result.copy_core_s:.0f} core-s ({100 * share:.1f} %)"


def _summary(results: list[Result]) -> None:
    """Per case: each policy's mean ratio over the runs, and balanced against cores."""
    for case in CASES:
        mean: dict[str, float] = {}
        for policy in ("balanced", "cores"):
            ratios = [r.ratio for r in results if (r.case, r.policy) == (case.name, policy)]
            if ratios:
                mean[policy] = statistics.mean(ratios)
        if len(mean) == 2:
            print(
                f"{case.name}: balanced {mean['balanced']:.3f} vs cores {mean['cores']:.3f} "
                f"(makespan {mean['balanced'] / mean['cores']:.3f}x the original policy's)"
            )


if __name__ == "__main__":
    main()

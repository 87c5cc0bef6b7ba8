"""Discrete-event simulation of one job's makespan under the driver's chunk policies.

The real benchmark (`bench_makespan.py`) takes minutes per case and runs on a shared,
noisy machine; this simulation takes milliseconds, so a policy can be judged over many
scenarios (worker mixes, year-time spreads, overhead levels, 10 to 1000 years) and seeds.
It models what decides a makespan in the real system, and calls the REAL
`winjobs.driver.scheduler.chunk_size` with the facts the store gathers at a claim:

- a worker claims as soon as its solver exited (the worker pipelines: the finished
  task's check, zip and upload run in the background, one at a time, while the next task
  runs). The claim, the staging (unpack, playlist) and the solver's start-up and
  end-of-run writing are a serial per-task overhead `task_s`; the background finishing
  `finish_s` only delays the task's report (the task stays running in the driver until
  then, which is what the driver sees);
- the solver runs the task's years in batches of `--force-parallel` (= the worker's
  cores) consecutive years, each batch as long as its slowest year (the real solver and
  the stand-in both do this);
- the driver hands out years in ascending order, claims one at a time (its claim gate);
- heartbeats every `heartbeat_s` report the years of finished batches (what the worker
  reads from the solver log without year-by-year output).

Makespan runs from the first claim to the last report, like the benchmark's.

Run: `uv run python benchmarks/sim_makespan.py` prints, for a grid of scenarios, the
makespan / ideal of each policy and how often `balanced` beats `cores`.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from winjobs.driver.scheduler import ChunkFacts, JobFacts, Pool, chunk_size
from winjobs.driver.settings import ChunkPolicy
from winjobs.driver.speculation import (
    Claimer,
    FinishedTask,
    JobTail,
    RunningTask,
    SpeculationRule,
    pick_copy,
)

# ----------------------------------------------------------------------------- year times


def even_years(n: int, seconds: float = 1.0) -> list[float]:
    return [seconds] * n


def bench_uneven_years(n: int, seconds: float = 1.0) -> list[float]:
    """The makespan benchmark's uneven years: a fixed permutation of steps over
    [0.4 S, 1.6 S], mean S (`7 y mod n`: neighbouring years differ, so batches mix)."""
    if n < 2:
        return [seconds] * n
    stride = 7 if math.gcd(7, n) == 1 else 5 if math.gcd(5, n) == 1 else 1
    steps = [0.4 + 1.2 * ((stride * y) % n) / (n - 1) for y in range(n)]
    return [round(seconds * step, 3) for step in steps]


def uniform_years(n: int, rng: random.Random, low: float = 0.4, high: float = 1.6) -> list[float]:
    return [rng.uniform(low, high) for _ in range(n)]


def lognormal_years(n: int, rng: random.Random, sigma: float = 0.4) -> list[float]:
    """Mean 1, a long tail of slow years (hard weeks, more unit commitment)."""
    return [rng.lognormvariate(-sigma * sigma / 2, sigma) for _ in range(n)]


def rising_years(n: int, low: float = 0.5, high: float = 1.5) -> list[float]:
    """Later years slower (a drifting scenario set): the end is heavier than the start."""
    return [low + (high - low) * y / max(1, n - 1) for y in range(n)]


def slow_tail_years(n: int, factor: float = 3.0, fraction: float = 1 / 6) -> list[float]:
    """The last years several times slower: the worst case for big early chunks."""
    slow = max(1, round(n * fraction))
    return [1.0] * (n - slow) + [factor] * slow


def bimodal_years(
    n: int, rng: random.Random, fraction: float = 0.1, factor: float = 4.0
) -> list[float]:
    """Most years alike, a few much slower, anywhere."""
    return [factor if rng.random() < fraction else 1.0 for _ in range(n)]


YearPattern = Callable[[int, random.Random], list[float]]

PATTERNS: dict[str, YearPattern] = {
    "even": lambda n, rng: even_years(n),
    "bench-uneven": lambda n, rng: bench_uneven_years(n),
    "uniform": uniform_years,
    "lognormal": lognormal_years,
    "rising": lambda n, rng: rising_years(n),
    "slow-tail": lambda n, rng: slow_tail_years(n),
    "bimodal": bimodal_years,
}

# ------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class Overheads:
    """Per-task costs, in seconds (the year times are in the same unit)."""

    task_s: float  #: serial, before the first batch: claim, staging, solver start and end
    finish_s: float  #: in the background after the solver: check, zip, upload, verify
    jitter: float = 0.3  #: relative spread of both (lognormal sigma)
    heartbeat_s: float = 2.0  #: how often a running task reports its finished years
    start_spread_s: float = 0.05  #: the workers' first claims spread over this much time
    year_noise: float = 0.03  #: run-to-run relative noise of a year's time


@dataclass(frozen=True)
class Scenario:
    name: str
    cores: tuple[int, ...]
    year_times: tuple[float, ...]
    overheads: Overheads
    #: each worker's year time relative to the year's own (2.0: a machine twice as slow
    #: or as busy); none: every worker at 1
    slowness: tuple[float, ...] = ()

    def slow(self, worker: int) -> float:
        return self.slowness[worker] if self.slowness else 1.0

    @property
    def ideal(self) -> float:
        """Total year time over the pool's throughput (cores, each at its speed)."""
        speed = sum(c / self.slow(w) for w, c in enumerate(self.cores))
        return sum(self.year_times) / speed


@dataclass
class SimTask:
    worker: int
    first: int  #: index of its first year in the job's list
    n_years: int
    claimed: float
    batch_ends: list[tuple[float, int]]  #: (end time, years) of each batch
    computed: float  #: the solver exited
    reported: float  #: the driver accepted the output

    def years_done(self, now: float, heartbeat_s: float) -> int:
        """What the driver knows at `now`: years of the batches finished by the last
        heartbeat (the heartbeat thread starts at the claim)."""
        if now >= self.reported:
            return self.n_years
        beats = math.floor((now - self.claimed) / heartbeat_s)
        last_beat = self.claimed + beats * heartbeat_s
        return sum(n for end, n in self.batch_ends if end <= last_beat)


@dataclass(frozen=True)
class ClaimView:
    """Every fact the store could gather cheaply at a claim (candidate policies may use
    more of them than `chunk_size` does)."""

    now: float
    unassigned: int
    free_cores: int
    pool: Pool
    worker: int
    running: tuple[SimTask, ...]  #: the job's tasks not yet reported, any worker
    reported: tuple[SimTask, ...]  #: the job's finished tasks
    heartbeat_s: float

    def others_starting(self) -> int:
        """Years in the tasks other workers claimed and reported no finished year of yet
        (the fact `chunk_size` takes)."""
        return sum(
            t.n_years
            for t in self.running
            if t.worker != self.worker and t.years_done(self.now, self.heartbeat_s) == 0
        )

    def others_left(self) -> int:
        """Years in other workers' running tasks not reported done yet (for candidate
        policies: `chunk_size` once counted these, see `scheduler.chunk_size`)."""
        return sum(
            t.n_years - t.years_done(self.now, self.heartbeat_s)
            for t in self.running
            if t.worker != self.worker
        )

    def facts(self, splittable: bool = True) -> ChunkFacts:
        """What the store passes to `chunk_size` (store/claims.py gathers the same)."""
        return ChunkFacts(
            unassigned=self.unassigned,
            free_cores=self.free_cores,
            pool=self.pool,
            others_starting=self.others_starting(),
            splittable=splittable,
        )


Chooser = Callable[[ClaimView], int]


def real_policy(policy: ChunkPolicy) -> Chooser:
    """The driver's own `chunk_size`, given the facts the store passes."""
    return lambda view: chunk_size(policy, view.facts())


def factoring(divisor: float, counted: Callable[[ClaimView], int]) -> Chooser:
    """Candidate rules for comparison: `floor((unassigned + counted) / (divisor * pool
    cores))` rounds of the worker's cores, at least one, at most what remains."""

    def choose(view: ClaimView) -> int:
        cores = max(1, view.free_cores)
        work = view.unassigned + counted(view)
        rounds = max(1, math.floor(work / (divisor * max(view.pool.cores, cores))))
        return min(view.unassigned, rounds * cores)

    return choose


def _all_in_flight(view: ClaimView) -> int:
    return sum(t.n_years for t in view.running)


#: the rules the policy was chosen among (`balanced` is the driver's real one)
CANDIDATES: dict[str, Chooser] = {
    # the first `balanced`: every year in a running task counted, the claimer's included
    "first-balanced": factoring(2, _all_in_flight),
    # classic factoring: unassigned years only (the first claims of a burst shrink)
    "unassigned-only": factoring(2, lambda view: 0),
    # the others' years not reported done (bigger chunks while others are under way)
    "others-left": factoring(2, ClaimView.others_left),
    "divisor-1.5": factoring(1.5, ClaimView.others_starting),
    "divisor-3": factoring(3, ClaimView.others_starting),
}


@dataclass
class Outcome:
    makespan: float
    ideal: float
    tasks: int
    chunks: list[tuple[int, int]] = field(default_factory=list)  #: (worker, years) in order
    timeline: list[SimTask] = field(default_factory=list)
    copies: int = 0  #: speculative copies started
    copies_won: int = 0  #: of them, reported before their original
    #: core-seconds the copies held their workers (until done, or cancelled)
    copy_core_s: float = 0.0

    @property
    def ratio(self) -> float:
        return self.makespan / self.ideal


def _noisy(value: float, sigma: float, rng: random.Random) -> float:
    if value <= 0 or sigma <= 0:
        return value
    return value * rng.lognormvariate(-sigma * sigma / 2, sigma)


def _batches(times: Sequence[float], cores: int) -> Iterator[tuple[float, int]]:
    for i in range(0, len(times), cores):
        batch = times[i : i + cores]
        yield max(batch), len(batch)


def simulate(
    scenario: Scenario, choose: Chooser, seed: int = 0, copies: SpeculationRule | None = None
) -> Outcome:
    """One run of the job: workers claim, stage, run batches, report in the background;
    with `copies`, workers that find no year left run speculative copies (`_tail`)."""
    rng = random.Random(seed)
    over = scenario.overheads
    times = [_noisy(t, over.year_noise, rng) for t in scenario.year_times]
    cores = scenario.cores
    pool = Pool(cores=sum(cores), workers=len(cores))
    free: list[tuple[float, int]] = [
        (rng.uniform(0, over.start_spread_s), w) for w in range(len(cores))
    ]
    heapq.heapify(free)
    last_report = [0.0] * len(cores)
    tasks: list[SimTask] = []
    next_year = 0
    chunks: list[tuple[int, int]] = []
    while next_year < len(times):
        now, worker = heapq.heappop(free)
        view = ClaimView(
            now=now,
            unassigned=len(times) - next_year,
            free_cores=cores[worker],
            pool=pool,
            worker=worker,
            running=tuple(t for t in tasks if t.reported > now),
            reported=tuple(t for t in tasks if t.reported <= now),
            heartbeat_s=over.heartbeat_s,
        )
        size = choose(view)
        if not 1 <= size <= view.unassigned:
            raise ValueError(f"chunk of {size} years out of 1..{view.unassigned}")
        task = _run(scenario, rng, times, worker, now, next_year, size, last_report)
        tasks.append(task)
        chunks.append((worker, size))
        next_year += size
        heapq.heappush(free, (task.computed, worker))
    start = min(t.claimed for t in tasks)
    outcome = Outcome(0.0, scenario.ideal, len(tasks), chunks, tasks)
    ends = [t.reported for t in tasks]
    if copies is not None:
        _tail(scenario, rng, times, free, last_report, outcome, ends, copies)
    outcome.makespan = max(ends) - start
    return outcome


def _run(
    scenario: Scenario,
    rng: random.Random,
    times: Sequence[float],
    worker: int,
    now: float,
    first: int,
    size: int,
    last_report: list[float],
) -> SimTask:
    """One attempt of years[first:first + size] on `worker`, claimed at `now`."""
    over = scenario.overheads
    clock = now + _noisy(over.task_s, over.jitter, rng)
    batch_ends = []
    slow = scenario.slow(worker)
    for duration, n in _batches(times[first : first + size], scenario.cores[worker]):
        clock += duration * slow
        batch_ends.append((clock, n))
    reported = max(clock, last_report[worker]) + _noisy(over.finish_s, over.jitter, rng)
    last_report[worker] = reported
    return SimTask(worker, first, size, now, batch_ends, clock, reported)


def _next_beat(claimed: float, moment: float, heartbeat_s: float) -> float:
    """The first heartbeat of an attempt claimed at `claimed` at or after `moment`: when
    it learns that it was cancelled."""
    return claimed + math.ceil((moment - claimed) / heartbeat_s) * heartbeat_s


def _tail(
    scenario: Scenario,
    rng: random.Random,
    times: Sequence[float],
    free: list[tuple[float, int]],
    last_report: list[float],
    outcome: Outcome,
    ends: list[float],
    rule: SpeculationRule,
) -> None:
    """Every year is in a task: a worker that claims finds nothing and asks the REAL
    `speculation.pick_copy`; without a copy it claims again a heartbeat later. The first
    attempt reported wins (`ends`); the loser stops at its next heartbeat after that."""
    over, cores, tasks = scenario.overheads, scenario.cores, outcome.timeline
    busy_until = {worker: moment for moment, worker in free}
    winners: dict[int, SimTask] = {}
    copied: set[int] = set()
    while free:
        now, worker = heapq.heappop(free)
        if now != busy_until[worker] or all(end <= now for end in ends):
            continue  # a stale entry (its attempt was cancelled sooner), or the job ended
        finished = [
            FinishedTask(w.n_years, cores[w.worker], w.reported - w.claimed)
            for i, t in enumerate(tasks)
            if ends[i] <= now and (w := winners.get(i, t))
        ]
        running = [
            RunningTask(
                i,
                1,
                t.worker,
                t.n_years,
                cores[t.worker],
                now - t.claimed,
                copied=i in copied,
                years_done=t.years_done(now, over.heartbeat_s),
            )
            for i, t in enumerate(tasks)
            if ends[i] > now
        ]
        tail = JobTail(JobFacts(1, 50, "8.8", "8.8", 0, 0), finished, running)
        choice = pick_copy([tail], Claimer(worker, cores[worker], ("8.8",)), rule)
        if choice is None:
            busy_until[worker] = now + over.heartbeat_s
            heapq.heappush(free, (busy_until[worker], worker))
            continue
        i, original = choice.task.task_id, tasks[choice.task.task_id]
        copy = _run(
            scenario, rng, times, worker, now, original.first, original.n_years, last_report
        )
        copied.add(i)
        outcome.copies += 1
        if copy.reported < original.reported:
            outcome.copies_won += 1
            winners[i], ends[i], stopped = copy, copy.reported, copy.computed
            loser_free = _next_beat(original.claimed, copy.reported, over.heartbeat_s)
            if loser_free < busy_until[original.worker]:
                busy_until[original.worker] = loser_free
                heapq.heappush(free, (loser_free, original.worker))
        else:
            stopped = min(copy.computed, _next_beat(now, original.reported, over.heartbeat_s))
        outcome.copy_core_s += (stopped - now) * cores[worker]
        busy_until[worker] = stopped
        heapq.heappush(free, (stopped, worker))


# ------------------------------------------------------------------------------ the grid

#: worker mixes: cores per worker
MIXES: dict[str, tuple[int, ...]] = {
    "4x4": (4, 4, 4, 4),
    "8/4/2/2": (8, 4, 2, 2),
    "2x8": (8, 8),
    "8x2": (2,) * 8,
    "1x16": (16,),
    "16/1/1": (16, 1, 1),
    "3x6": (6, 6, 6),
    "10x8": (8,) * 10,
    "24/12/4": (24, 12, 4),
    "16x1": (1,) * 16,
}
YEARS = (10, 24, 50, 96, 200, 1000)
#: serial per-task overhead relative to a mean year (the real benchmark: ~3 s for 30 s)
OVERHEAD_LEVELS = (0.02, 0.1, 0.3)


def scenarios(
    patterns: Sequence[str],
    mixes: Sequence[str],
    years: Sequence[int],
    levels: Sequence[float],
    draw: int = 0,
) -> Iterator[Scenario]:
    """The grid; `draw` picks the random year times of the random patterns (the fixed
    patterns are the same in every draw)."""
    for pattern in patterns:
        for mix in mixes:
            for n in years:
                rng = random.Random(f"{pattern} {mix} {n} {draw}")
                times = tuple(PATTERNS[pattern](n, rng))
                for level in levels:
                    over = Overheads(
                        task_s=level, finish_s=level / 2, heartbeat_s=min(0.5, 2 * level)
                    )
                    yield Scenario(f"{pattern} {mix} n={n} h={level:g}", MIXES[mix], times, over)


def compare(
    choosers: dict[str, Chooser], grid: Callable[[int], Sequence[Scenario]], draws: int
) -> tuple[list[str], dict[str, list[float]]]:
    """Mean makespan / ideal over `draws` runs (random year times drawn again and
    overheads jittered in each), per scenario, per chooser."""
    names: list[str] = []
    ratios: dict[str, list[list[float]]] = {name: [] for name in choosers}
    for draw in range(draws):
        for i, scenario in enumerate(grid(draw)):
            if draw == 0:
                names.append(scenario.name)
                for runs in ratios.values():
                    runs.append([])
            for name, choose in choosers.items():
                ratios[name][i].append(simulate(scenario, choose, seed=draw).ratio)
    return names, {name: [statistics.mean(r) for r in runs] for name, runs in ratios.items()}


def _report(
    names: list[str], ratios: dict[str, list[float]], keys: dict[str, Callable[[str], str]]
) -> None:
    """Each rule's makespan relative to `cores`: overall, then by each key of the name."""
    base = ratios["cores"]
    for rule, values in ratios.items():
        if rule == "cores":
            continue
        rel = [a / b for a, b in zip(values, base, strict=True)]
        print(
            f"{rule:<16} / cores: mean {statistics.mean(rel):.3f}, worst {max(rel):.3f}, "
            f"best {min(rel):.3f}; worse by > 0.5 %: {sum(r > 1.005 for r in rel)} "
            f"of {len(rel)}"
        )
        for key, of in keys.items():
            groups: dict[str, list[float]] = {}
            for name, r in zip(names, rel, strict=True):
                groups.setdefault(of(name), []).append(r)
            cells = ", ".join(
                f"{group} {statistics.mean(rs):.3f}/{max(rs):.3f}" for group, rs in groups.items()
            )
            print(f"    by {key} (mean/worst): {cells}")


#: the makespan benchmark's overheads at 30 s per year, as a fraction of a year (1.5 s
#: serial per task, 1 s more in the background, as `bench_makespan.py` measured them on
#: a quiet machine; heartbeats every 2 s)
BENCH_OVERHEADS = Overheads(
    0.05, 0.033, jitter=0.2, heartbeat_s=0.07, start_spread_s=0.01, year_noise=0.005
)


def _case(name: str, cores: tuple[int, ...], times: list[float], *slow: float) -> Scenario:
    return Scenario(name, cores, tuple(times), BENCH_OVERHEADS, slow)


#: the makespan benchmark's cases (96 years), and machines slower or busier than others
COPY_CASES: dict[str, Scenario] = {
    case.name: case
    for case in (
        _case("uneven workers", (8, 4, 2, 2), even_years(96)),
        _case("uneven years", (4, 4, 4, 4), bench_uneven_years(96)),
        _case("one worker 10x slower (busy)", (4, 4, 4, 4), even_years(96), 1, 1, 1, 10),
        _case("one worker 3x slower", (4, 4, 4, 4), even_years(96), 1, 1, 1, 3),
        _case("one worker 2x slower", (4, 4, 4, 4), even_years(96), 1, 1, 1, 2),
        _case("uneven workers, the 8-core 1.5x slower", (8, 4, 2, 2), even_years(96), 1.5, 1, 1, 1),
    )
}


def copies_table(rule: SpeculationRule, runs: int = 20) -> list[str]:
    """Markdown rows: each case's makespan / ideal without and with speculative copies
    (`balanced`, mean of `runs` seeds), the copies started and won per run, and their
    cost: the core-seconds they held, as a share of the job's own (its year times)."""
    balanced = real_policy(ChunkPolicy.BALANCED)
    rows = [
        "| case | without copies | with copies | copies per run (won) | copies' core-seconds |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, scenario in COPY_CASES.items():
        plain = [simulate(scenario, balanced, seed) for seed in range(runs)]
        spec = [simulate(scenario, balanced, seed, copies=rule) for seed in range(runs)]
        work = sum(scenario.year_times)
        rows.append(
            f"| {name} | {statistics.mean(o.ratio for o in plain):.3f} "
            f"| {statistics.mean(o.ratio for o in spec):.3f} "
            f"| {statistics.mean(o.copies for o in spec):.1f} "
            f"({statistics.mean(o.copies_won for o in spec):.1f}) "
            f"| {100 * statistics.mean(o.copy_core_s for o in spec) / work:.1f} % |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--copies", action="store_true", help="the speculative-copy cases (and nothing else)"
    )
    parser.add_argument("--patterns", default=",".join(PATTERNS))
    parser.add_argument("--mixes", default=",".join(MIXES))
    parser.add_argument("--years", default=",".join(map(str, YEARS)))
    parser.add_argument("--overheads", default=",".join(map(str, OVERHEAD_LEVELS)))
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--candidates", action="store_true", help="also the rules not chosen")
    parser.add_argument("--verbose", action="store_true", help="one line per scenario")
    args = parser.parse_args()
    if args.copies:
        rule = SpeculationRule()
        print(f"speculative copies: factor {rule.factor}, min_finished {rule.min_finished}")
        print("\n".join(copies_table(rule)))
        return

    def grid(draw: int) -> list[Scenario]:
        return list(
            scenarios(
                args.patterns.split(","),
                args.mixes.split(","),
                [int(n) for n in args.years.split(",")],
                [float(h) for h in args.overheads.split(",")],
                draw,
            )
        )

    choosers = {policy.value: real_policy(policy) for policy in ChunkPolicy}
    if args.candidates:
        choosers.update(CANDIDATES)
    names, ratios = compare(choosers, grid, args.draws)
    if args.verbose:
        for i, name in enumerate(names):
            cells = "  ".join(f"{rule} {values[i]:6.3f}" for rule, values in ratios.items())
            print(f"{name:<40} {cells}")
    print(f"{len(names)} scenarios x {args.draws} draws; makespan / ideal relative to cores")
    parts = {
        "overhead": lambda name: name.split()[3],
        "pattern": lambda name: name.split()[0],
        "years": lambda name: name.split()[2],
    }
    _report(names, ratios, parts)


if __name__ == "__main__":
    main()

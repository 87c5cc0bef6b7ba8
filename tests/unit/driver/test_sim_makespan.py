"""The makespan simulator (benchmarks/sim_makespan.py) and, through it, the chunk policy.

The simulator's mechanics are checked against schedules worked out by hand; then the
driver's real `chunk_size` runs in it at small scale: `balanced` must make fewer tasks
than the original rule and finish sooner where the per-task overhead matters (the
makespan benchmark's cases and random year times), and never lose much anywhere.
"""

from __future__ import annotations

import statistics

import pytest
from benchmarks.sim_makespan import (
    COPY_CASES,
    MIXES,
    PATTERNS,
    ClaimView,
    Overheads,
    Scenario,
    SimTask,
    bench_uneven_years,
    compare,
    even_years,
    real_policy,
    scenarios,
    simulate,
)

from winjobs.driver.scheduler import Pool
from winjobs.driver.settings import ChunkPolicy
from winjobs.driver.speculation import SpeculationRule

EXACT = Overheads(task_s=0.0, finish_s=0.0, jitter=0.0, start_spread_s=0.0, year_noise=0.0)
BALANCED, CORES = real_policy(ChunkPolicy.BALANCED), real_policy(ChunkPolicy.CORES)
#: the real benchmark's overheads at 30 s per year (2.4 s serial per task, measured)
BENCH = Overheads(0.08, 0.05, jitter=0.2, heartbeat_s=0.07, start_spread_s=0.01, year_noise=0.005)


def test_a_batch_lasts_as_long_as_its_slowest_year() -> None:
    # one worker, 2 cores, cores policy: batch [1, 3] then [2, 2] -> 3 + 2
    scenario = Scenario("by hand", (2,), (1.0, 3.0, 2.0, 2.0), EXACT)
    outcome = simulate(scenario, CORES)
    assert outcome.makespan == 5.0
    assert outcome.chunks == [(0, 2), (0, 2)]
    assert outcome.ratio == 5.0 / 4.0  # ideal: 8 year-seconds on 2 cores


def test_overheads_serial_per_task_and_the_last_upload() -> None:
    overheads = Overheads(0.5, 0.25, jitter=0.0, start_spread_s=0.0, year_noise=0.0)
    scenario = Scenario("by hand", (4,), tuple(even_years(8)), overheads)
    outcome = simulate(scenario, CORES)
    # two tasks of one batch each: (0.5 + 1) twice, then the last upload (the first one
    # overlaps the second task)
    assert outcome.makespan == 3.25
    assert [t.reported for t in outcome.timeline] == [1.75, 3.25]


def test_the_driver_sees_finished_batches_at_heartbeats() -> None:
    task = SimTask(worker=1, first=0, n_years=8, claimed=0.0,
                   batch_ends=[(1.5, 4), (2.5, 4)], computed=2.5, reported=3.0)  # fmt: skip
    assert [task.years_done(t, heartbeat_s=1.0) for t in (1.4, 1.9, 2.0, 2.9, 3.0)] == [
        0, 0, 4, 4, 8,
    ]  # fmt: skip
    view = ClaimView(now=2.2, unassigned=10, free_cores=4, pool=Pool(8, 2), worker=0,
                     running=(task,), reported=(), heartbeat_s=1.0)  # fmt: skip
    assert view.others_left() == 4
    # the claiming worker's own running task is done computing: it does not count
    own = ClaimView(now=2.2, unassigned=10, free_cores=4, pool=Pool(8, 2), worker=1,
                    running=(task,), reported=(), heartbeat_s=1.0)  # fmt: skip
    assert own.others_left() == 0


def test_every_year_runs_once_in_ascending_chunks() -> None:
    scenario = Scenario("mix", (8, 4, 2, 2), tuple(bench_uneven_years(96)), BENCH)
    for choose in (BALANCED, CORES):
        outcome = simulate(scenario, choose, seed=3)
        firsts = [t.first for t in outcome.timeline]
        assert firsts == sorted(firsts)
        assert sum(t.n_years for t in outcome.timeline) == 96


@pytest.mark.parametrize(
    ("case", "cores", "times"),
    [
        ("even", (4, 4, 4, 4), even_years(96)),
        ("uneven years", (4, 4, 4, 4), bench_uneven_years(96)),
        ("uneven workers", (8, 4, 2, 2), even_years(96)),
    ],
)
def test_balanced_beats_the_original_rule_in_the_benchmark_cases(
    case: str, cores: tuple[int, ...], times: list[float]
) -> None:
    """The makespan benchmark's three cases with its measured overheads, 10 runs each."""
    scenario = Scenario(case, cores, tuple(times), BENCH)
    ours = [simulate(scenario, BALANCED, seed) for seed in range(10)]
    theirs = [simulate(scenario, CORES, seed) for seed in range(10)]
    assert ours[0].tasks < theirs[0].tasks
    assert statistics.mean(o.ratio for o in ours) < statistics.mean(o.ratio for o in theirs)
    if case != "uneven years":  # batches of uneven years cost ~0.2 (see bench_makespan)
        assert max(o.ratio for o in ours) <= 1.10


def test_balanced_over_a_grid_of_scenarios() -> None:
    """Worker mixes x year-time patterns x overheads x job sizes, 3 draws each: on the
    whole clearly better, and never much worse where the ending is bad luck."""

    def grid(draw: int) -> list[Scenario]:
        return list(
            scenarios(list(PATTERNS), ["4x4", "8/4/2/2", "2x8", "8x2"], [96, 300], [0.1, 0.3],
                      draw)
        )  # fmt: skip

    assert {"4x4", "8/4/2/2"} <= set(MIXES)
    _, ratios = compare({"balanced": BALANCED, "cores": CORES}, grid, draws=3)
    relative = [a / b for a, b in zip(ratios["balanced"], ratios["cores"], strict=True)]
    assert statistics.mean(relative) < 0.97
    assert max(relative) < 1.05


def test_speculative_copies_in_the_simulator() -> None:
    """A copy of the busy worker's task wins and ends the job far sooner; where no task is
    behind its pace (the benchmark's uneven workers) no copy is started."""
    busy = COPY_CASES["one worker 10x slower (busy)"]
    plain = simulate(busy, BALANCED, seed=1)
    copied = simulate(busy, BALANCED, seed=1, copies=SpeculationRule())
    assert (copied.copies, copied.copies_won) == (1, 1)
    assert copied.makespan < plain.makespan / 2
    assert copied.copy_core_s > 0
    uneven = COPY_CASES["uneven workers"]
    outcome = simulate(uneven, BALANCED, seed=1, copies=SpeculationRule())
    assert outcome.copies == 0
    assert outcome.makespan == simulate(uneven, BALANCED, seed=1).makespan

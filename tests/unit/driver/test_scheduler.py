"""The scheduling policy, table-driven, with no database and no server."""

from __future__ import annotations

import pytest

from winjobs.driver.scheduler import (
    Blocker,
    ChunkFacts,
    Decision,
    JobFacts,
    Pool,
    Verdict,
    assess,
    chunk_size,
    eta_seconds,
    pick,
)
from winjobs.driver.settings import ChunkPolicy

BALANCED, CORES = ChunkPolicy.BALANCED, ChunkPolicy.CORES


def job(
    id: int,
    priority: int = 50,
    version: str = "8.8",
    pinned: str | None = None,
    queued: int = 0,
    unassigned: int = 10,
    held: bool = False,
) -> JobFacts:
    return JobFacts(id, priority, version, pinned, queued, unassigned, held)


@pytest.mark.parametrize(
    ("jobs", "versions", "expected"),
    [
        # higher priority first
        ([job(1, priority=50), job(2, priority=80)], ["8.8"], Decision(2, "8.8", False)),
        # first come first served within a priority
        ([job(3), job(2), job(5)], ["8.8"], Decision(2, "8.8", False)),
        # a job without work left is skipped
        ([job(1, priority=90, unassigned=0), job(2)], ["8.8"], Decision(2, "8.8", False)),
        # a re-queued task comes before cutting new years
        ([job(1, queued=1, unassigned=4)], ["8.8"], Decision(1, "8.8", True)),
        ([job(1, queued=2, unassigned=0)], ["8.8"], Decision(1, "8.8", True)),
        # a job the worker cannot run is skipped, even with a higher priority
        ([job(1, priority=90, version="9.2"), job(2)], ["8.8"], Decision(2, "8.8", False)),
        ([job(1, priority=90, pinned="8.8", version="8.6"), job(2, version="8.6")],
         ["8.6"], Decision(2, "8.6", False)),
        # a held job keeps its place but gives no task: the next job in the order runs
        ([job(1, priority=90, held=True), job(2)], ["8.8"], Decision(2, "8.8", False)),
        ([job(1, held=True, queued=2), job(2, queued=1)], ["8.8"], Decision(2, "8.8", True)),
        ([job(1, held=True), job(2, held=True)], ["8.8"], None),
        # released again, it is back at its place: before later jobs of its priority
        ([job(2), job(1, held=False)], ["8.8"], Decision(1, "8.8", False)),
        # nothing runnable
        ([job(1, version="9.2")], ["8.8"], None),
        ([job(1, unassigned=0)], ["8.8"], None),
        ([], ["8.8"], None),
    ],
)  # fmt: skip
def test_pick(jobs: list[JobFacts], versions: list[str], expected: Decision | None) -> None:
    assert pick(jobs, versions) == expected


@pytest.mark.parametrize(
    ("facts", "versions", "expected"),
    [
        (job(1), ["8.8"], Verdict(solver="8.8")),
        (job(1, version="8.6"), ["9.2", "8.8"], Verdict(solver="8.8")),
        # nothing left this worker may take: no queued task, no year to cut
        (job(1, queued=0, unassigned=0), ["8.8"], Verdict(blocker=Blocker.NOTHING_FOR_IT)),
        (job(1, queued=1, unassigned=0), ["8.8"], Verdict(solver="8.8")),
        # no solver of the study's major version, or too old a minor
        (job(1, version="9.3"), ["8.8", "9.2"], Verdict(blocker=Blocker.NO_SOLVER)),
        (job(1, version="8.8"), ["8.6"], Verdict(blocker=Blocker.NO_SOLVER)),
        # pinned to 8.8 by its first task: an 8.9 solver could run the study, not the job
        (job(1, version="8.6", pinned="8.8"), ["8.9"], Verdict(blocker=Blocker.PINNED_VERSION)),
        (job(1, version="8.6", pinned="8.8"), ["9.2"], Verdict(blocker=Blocker.NO_SOLVER)),
        (job(1, version="8.6", pinned="8.8"), ["8.6", "8.8"], Verdict(solver="8.8")),
    ],
)  # fmt: skip
def test_assess(facts: JobFacts, versions: list[str], expected: Verdict) -> None:
    """The one rule the claim (`pick`) and the why-pending reasons (`waiting`) share."""
    assert assess(facts, versions) == expected


def test_pick_takes_the_first_job_assess_allows() -> None:
    jobs = [job(1, priority=90, version="9.2"), job(2, priority=70), job(3, priority=60)]
    for versions in (["8.8"], ["9.2"], ["8.8", "9.2"]):
        allowed = [j for j in sorted(jobs, key=lambda j: -j.priority) if assess(j, versions).solver]
        decision = pick(jobs, versions)
        assert decision is not None and decision.job_id == allowed[0].id


@pytest.mark.parametrize(
    ("policy", "unassigned", "others_starting", "cores", "pool", "expected"),
    [
        # the original rule: chunk = free cores, never more than what remains
        (CORES, 96, 0, 4, Pool(16, 4), 4),
        (CORES, 3, 0, 4, Pool(16, 4), 3),
        (CORES, 96, 40, 8, Pool(16, 3), 8),  # whatever the others are doing
        # balanced: half the worker's share of the work left, in whole rounds of cores
        (BALANCED, 96, 0, 4, Pool(16, 4), 12),  # share 24 -> 12 = 3 rounds
        (BALANCED, 84, 12, 4, Pool(16, 4), 12),  # the years others just claimed count:
        (BALANCED, 60, 36, 4, Pool(16, 4), 12),  # a burst of claims gets equal chunks
        (BALANCED, 64, 0, 4, Pool(16, 4), 8),  # share 16 -> 8
        (BALANCED, 48, 12, 4, Pool(16, 4), 4),  # share 15 -> 7.5 -> one round
        (BALANCED, 10, 12, 4, Pool(16, 4), 4),  # never below one round...
        (BALANCED, 3, 12, 4, Pool(16, 4), 3),  # ...nor above what remains
        (BALANCED, 96, 0, 8, Pool(16, 3), 24),  # bigger workers get bigger shares,
        (BALANCED, 96, 0, 2, Pool(16, 3), 6),  # the same number of rounds
        (BALANCED, 50, 0, 4, Pool(0, 0), 24),  # first worker ever: alone in its pool
        (BALANCED, 1000, 0, 1, Pool(1, 1), 500),
    ],
)  # fmt: skip
def test_chunk_size(
    policy: ChunkPolicy,
    unassigned: int,
    others_starting: int,
    cores: int,
    pool: Pool,
    expected: int,
) -> None:
    facts = ChunkFacts(unassigned, cores, pool, others_starting)
    assert chunk_size(policy, facts) == expected


@pytest.mark.parametrize("policy", [BALANCED, CORES])
def test_a_study_that_cannot_be_split_is_one_task(policy: ChunkPolicy) -> None:
    assert chunk_size(policy, ChunkFacts(7, 2, Pool(8, 2), splittable=False)) == 7


@pytest.mark.parametrize("policy", [BALANCED, CORES])
def test_chunk_size_of_nothing_is_zero(policy: ChunkPolicy) -> None:
    assert chunk_size(policy, ChunkFacts(0, 4, Pool(4, 1))) == 0


def test_balanced_chunks_are_whole_rounds_within_bounds() -> None:
    """Over many facts: at least one round, whole rounds (unless capped by what remains),
    never more than remains, never shrinking when more work is left."""
    for unassigned in range(1, 130, 3):
        for cores in (1, 2, 3, 4, 8, 16):
            for pool_cores in (cores, 16, 40):
                for others in (0, 7, 48):
                    facts = ChunkFacts(unassigned, cores, Pool(pool_cores, 4), others)
                    size = chunk_size(BALANCED, facts)
                    assert min(cores, unassigned) <= size <= unassigned, facts
                    assert size % cores == 0 or size == unassigned, facts
                    more = ChunkFacts(unassigned + 5, cores, Pool(pool_cores, 4), others)
                    assert chunk_size(BALANCED, more) >= size, facts


@pytest.mark.parametrize(
    ("total", "done", "seconds", "expected"),
    [
        (10, 0, 50.0, None),  # no finished year: no pace yet
        (10, 5, 50.0, 50.0),
        (10, 2, 10.0, 40.0),
        (10, 10, 80.0, None),  # done
        (10, 3, 0.0, None),
    ],
)
def test_eta(total: int, done: int, seconds: float, expected: float | None) -> None:
    assert eta_seconds(total, done, seconds) == expected

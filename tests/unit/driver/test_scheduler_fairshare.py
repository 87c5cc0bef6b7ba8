"""Fair share and aging (`fairshare`), table-driven, with no database and no server."""

from __future__ import annotations

import math

import pytest

from winjobs.driver.fairshare import (
    DAY,
    HOUR,
    NO_USAGE,
    STRICT,
    OrderRules,
    Usage,
    aged_priority,
    level,
    ranking,
    settled,
    shares,
    used,
)
from winjobs.driver.scheduler import Decision, JobFacts, pick
from winjobs.driver.settings import Scheduling

NOW = 1_000 * DAY  #: seconds since the epoch
FAIR = OrderRules()
AGING = OrderRules(aging_per_hour=2.0, aging_max=10)


def job(id: int, user: str, priority: int = 50, waited_h: float = 0.0) -> JobFacts:
    return JobFacts(id, priority, "8.8", None, 0, 10, user=user, submitted_at=NOW - waited_h * HOUR)


def busy(core_hours: float = 0.0, cores: int = 0) -> Usage:
    """Usage settled now."""
    return Usage(core_hours * HOUR, cores, NOW)


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (Usage(100.0, 0, NOW), 100.0),
        # halved every half-life, nothing running
        (Usage(100.0, 0, NOW - DAY), 50.0),
        (Usage(100.0, 0, NOW - 2 * DAY), 25.0),
        # 4 cores running for one second: 4 core-seconds (decay negligible)
        (Usage(0.0, 4, NOW - 1), 4.0),
        # 1 core running forever tends to half_life / ln 2 core-seconds
        (Usage(0.0, 1, NOW - 1000 * DAY), DAY / math.log(2)),
        # a clock that went back counts no negative time
        (Usage(10.0, 8, NOW + 60), 10.0),
        (NO_USAGE, 0.0),
    ],
)  # fmt: skip
def test_used_decays_with_the_half_life(usage: Usage, expected: float) -> None:
    assert used(usage, NOW, DAY) == pytest.approx(expected, rel=1e-4)


def test_settling_keeps_the_usage_and_counts_the_new_cores_from_then_on() -> None:
    """Settled at every change, the usage is what one stretch of the same cores gives."""
    start = Usage(0.0, 16, NOW - 3 * HOUR)
    midway = settled(start, 16, NOW - HOUR, DAY)  # another task started on no new cores
    assert used(midway, NOW, DAY) == pytest.approx(used(start, NOW, DAY))
    ended = settled(start, 0, NOW - HOUR, DAY)  # the last task ended an hour ago
    assert used(ended, NOW, DAY) < used(start, NOW, DAY)
    assert ended.running_cores == 0 and ended.at == NOW - HOUR


@pytest.mark.parametrize(
    ("priority", "waited_h", "rules", "expected"),
    [
        (50, 0.0, AGING, 50),
        (50, 0.4, AGING, 50),  # whole points only: 0.8 of a point is none
        (50, 1.0, AGING, 52),
        (50, 4.9, AGING, 59),
        (50, 100.0, AGING, 60),  # capped
        (50, 100.0, FAIR, 50),  # no aging by default in the rules
        (50, 100.0, OrderRules(aging_per_hour=1.0, aging_max=0), 50),
        (50, -1.0, AGING, 50),  # submitted "in the future" (clock skew): no aging
    ],
)  # fmt: skip
def test_aged_priority(priority: int, waited_h: float, rules: OrderRules, expected: int) -> None:
    assert aged_priority(priority, waited_h * HOUR, rules) == expected


@pytest.mark.parametrize(
    ("jobs", "usage", "rules", "first"),
    [
        # strict: first come first served within a priority, whoever submitted
        ([job(1, "ann"), job(2, "bob")], {"ann": busy(100)}, STRICT, 1),
        # fair share: the user who used least goes first
        ([job(1, "ann"), job(2, "bob")], {"ann": busy(100)}, FAIR, 2),
        ([job(1, "ann"), job(2, "bob")], {"ann": busy(1), "bob": busy(2)}, FAIR, 1),
        # a user nobody has seen yet used nothing
        ([job(1, "ann"), job(2, "bob")], {"ann": busy(1)}, FAIR, 2),
        # nobody used anything: what runs now tells them apart, then first come
        ([job(1, "ann"), job(2, "bob")], {"ann": busy(0, cores=8)}, FAIR, 2),
        ([job(1, "ann"), job(2, "bob")], {}, FAIR, 1),
        # a flood: ann's ten jobs came first, bob's one is served first
        ([*(job(i, "ann") for i in range(1, 11)), job(11, "bob")], {"ann": busy(0, 4)}, FAIR, 11),
        # weights: ann weighs 4, so 100 core-hours of hers count as 25 against bob's 30
        ([job(1, "ann"), job(2, "bob")], {"ann": busy(100), "bob": busy(30)},
         OrderRules(weights={"ann": 4.0}), 1),
        ([job(1, "ann"), job(2, "bob")], {"ann": busy(100), "bob": busy(30)}, FAIR, 2),
        # usage decays: ann's 100 core-hours of ten days ago weigh less than bob's 1 today
        ([job(1, "ann"), job(2, "bob")],
         {"ann": Usage(100 * HOUR, 0, NOW - 10 * DAY), "bob": busy(1)}, FAIR, 1),
        # priority comes first: fair share orders jobs of one (effective) priority only
        ([job(1, "ann", priority=60), job(2, "bob")], {"ann": busy(100)}, FAIR, 1),
        # aging lifts a job to a higher level: bob's priority-50 job waited 6 h (+10,
        # capped) and reaches ann's 60, where bob used less
        ([job(1, "ann", priority=60), job(2, "bob", waited_h=6)], {"ann": busy(100)}, AGING, 2),
        # aged to 59 only: it stays at 50, ann's 60 goes first
        ([job(1, "ann", priority=60), job(2, "bob", waited_h=4.5)], {}, AGING, 1),
        # but aging does not reorder a level: ann's job waited 5 h (60 with aging), there is
        # no level above 50, and bob used less
        ([job(1, "ann", waited_h=5), job(2, "bob")], {"ann": busy(1)}, AGING, 2),
        # strictly ordered, aging lifts too: bob's older job reaches 55 and comes first
        ([job(1, "bob", priority=50, waited_h=3), job(2, "ann", priority=55)], {},
         OrderRules(scheduling=Scheduling.STRICT, aging_per_hour=2.0, aging_max=10), 1),
        ([job(1, "bob", priority=50, waited_h=3), job(2, "ann", priority=55)], {}, STRICT, 2),
    ],
)  # fmt: skip
def test_pick_in_the_order_of_fair_share_and_aging(
    jobs: list[JobFacts], usage: dict[str, Usage], rules: OrderRules, first: int
) -> None:
    decision = pick(jobs, ["8.8"], ranking(usage, NOW, rules, jobs))
    assert decision == Decision(first, "8.8", requeued_task=False)


def test_a_job_nobody_can_run_is_passed_over_whatever_its_share() -> None:
    jobs = [job(1, "bob")._replace(antares_version="9.2"), job(2, "ann")]
    decision = pick(jobs, ["8.8"], ranking({"ann": busy(100)}, NOW, FAIR, jobs))
    assert decision == Decision(2, "8.8", requeued_task=False)


@pytest.mark.parametrize(
    ("effective", "levels", "expected"),
    [(59, [20, 50, 60], 50), (60, [20, 50, 60], 60), (99, [20, 50, 60], 60), (10, [20], 10),
     (10, [], 10)],
)  # fmt: skip
def test_level_is_the_highest_priority_reached(
    effective: int, levels: list[int], expected: int
) -> None:
    assert level(effective, levels) == expected


def test_shares_lists_users_least_served_first() -> None:
    usage = {"ann": busy(30, cores=4), "bob": busy(10)}
    lines = shares(usage, ["cid"], NOW, OrderRules(weights={"ann": 2.0}))
    assert [(s.user, s.weight, s.running_cores) for s in lines] == [
        ("cid", 1.0, 0),
        ("bob", 1.0, 0),
        ("ann", 2.0, 4),
    ]
    assert [round(s.used, 2) for s in lines] == [0.0, 0.25, 0.75]
    assert [round(s.entitled, 2) for s in lines] == [0.25, 0.25, 0.5]
    assert lines[2].core_hours == pytest.approx(30.0)

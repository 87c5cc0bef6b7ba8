"""The fair-share simulator (benchmarks/sim_fairshare.py) and, through it, the real order:
over ten days of the simulated users (the weekend burst meets the next week), fair share
serves the light users sooner than the strict order, and aging serves the low-priority
job sooner."""

from __future__ import annotations

from benchmarks.sim_fairshare import compare, summary


def test_fair_share_and_aging_over_ten_days() -> None:
    results = compare(workers=6, cores=8, days=10, seed=1)
    strict, fair, aged = results["strict"], results["fair share"], results["fair share + aging"]
    for light in ("daily", "steady"):
        assert summary(fair[light])[2] < summary(strict[light])[2] / 2, light
    assert summary(aged["background"])[2] < summary(fair["background"])[2]
    # every job of every user was served (none waits forever)
    assert {user: len(waits) for user, waits in aged.items()} == {
        user: len(waits) for user, waits in strict.items()
    }

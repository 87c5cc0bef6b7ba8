"""`winjobs shares`: each user's share of the pool as fair share weighs it."""

from __future__ import annotations

import json

from tests.unit.cli.conftest import Cli
from tests.unit.cli.fake_driver import FakeDriver
from winjobs.wire import Shares, UserShare


def _shares(scheduling: str = "fair_share", users: list[UserShare] | None = None) -> Shares:
    return Shares(
        scheduling=scheduling,
        half_life_hours=24,
        aging_points_per_hour=1,
        aging_max_points=50,
        users=users or [],
    )


BOB = UserShare(user="bob", weight=2, core_hours=3.25, running_cores=0, used=0.1, entitled=0.5)
ALICE = UserShare(user="alice", weight=1, core_hours=29.5, running_cores=8, used=0.9, entitled=0.25)


def test_one_line_per_user_least_served_first_and_how_the_queue_is_ordered(
    cli: Cli, fake: FakeDriver
) -> None:
    fake.shares = _shares(users=[BOB, ALICE])
    result = cli("shares")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == (
        "fair share: at one priority, the user with the least recent usage per weight goes "
        "first (usage halves every 24 h); waiting jobs gain 1 priority point(s) per hour, "
        "at most 50"
    )
    assert lines[1].split() == [
        "USER",
        "WEIGHT",
        "CORE-HOURS",
        "RUNNING",
        "CORES",
        "USED",
        "ENTITLED",
    ]
    assert lines[2].split() == ["bob", "2", "3.2", "0", "10%", "50%"]
    assert lines[3].split() == ["alice", "1", "29.5", "8", "90%", "25%"]


def test_strict_order_without_users(cli: Cli, fake: FakeDriver) -> None:
    fake.shares = _shares("strict")
    result = cli("shares")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0].startswith("strict order: at one priority, first come")
    assert result.out.splitlines()[1] == "no user yet"


def test_json_is_the_api_answer(cli: Cli, fake: FakeDriver) -> None:
    fake.shares = _shares(users=[BOB])
    result = cli("shares", "--json")
    assert result.code == 0, result.err
    assert Shares.model_validate(json.loads(result.out)) == fake.shares

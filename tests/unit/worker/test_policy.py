"""The owner's policy, table by table: windows, starting, suspending, resuming, vacating.

The office PC of docs/worker.md: weekdays 19:00-07:30 all cores, office hours 2 cores once
the owner has been idle 15 min, weekends all day; other programs below 30 % of the CPU,
1 GiB free. 2026-01-05 is a Monday.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from winjobs.wire import PolicyState
from winjobs.worker.policy import (
    Action,
    Facts,
    Held,
    Policy,
    Verdict,
    decide,
    parse_window,
    spell_seconds,
    windows_from,
)

GiB = 1024**3
OFFICE = Policy(
    windows=windows_from(
        ["mon-fri 19:00-07:30", "mon-fri 07:30-19:00 cores=2 idle=15m", "sat,sun"]
    ),
    default_cores=8,
    resume_idle_s=300,
    vacate_after_s=600,
    max_other_cpu_percent=30,
    min_free_memory=GiB,
)
NIGHTS_ONLY = Policy(windows=windows_from(["mon-fri 19:00-07:30"]), default_cores=8)


def at(day: int, hhmm: str, seconds: int = 0) -> datetime:
    """Monday 5 January 2026 + `day` days, at `hhmm` (UTC: the zone does not matter)."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return datetime(2026, 1, 5 + day, hours, minutes, seconds, tzinfo=UTC)


MON, TUE, SAT, SUN = 0, 1, 5, 6


def facts(
    moment: datetime,
    idle_min: float | None = 60,
    cpu: float | None = 5,
    free: int | None = 8 * GiB,
) -> Facts:
    idle = None if idle_min is None else idle_min * 60
    return Facts(now=moment, idle_s=idle, other_cpu_percent=cpu, free_memory=free)


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize(
    ("text", "days", "spans", "cores", "idle_s"),
    [
        ("always", set(range(7)), ((0, 1440),), None, 0),
        ("mon-fri 19:00-07:30", {0, 1, 2, 3, 4}, ((0, 450), (1140, 1440)), None, 0),
        ("mon-fri 07:30-19:00 cores=2 idle=15m", {0, 1, 2, 3, 4}, ((450, 1140),), 2, 900),
        ("sat,sun", {5, 6}, ((0, 1440),), None, 0),
        ("fri-mon 00:00-24:00 cores=0", {4, 5, 6, 0}, ((0, 1440),), None, 0),
        ("Wed 12:00-13:30 idle=1h30m", {2}, ((720, 810),), None, 5400),
        ("always cores=4 idle=90s", set(range(7)), ((0, 1440),), 4, 90),
        ("tue 22:00-00:00", {1}, ((1320, 1440),), None, 0),
    ],
)
def test_windows_are_read_like_the_docs_say(
    text: str, days: set[int], spans: tuple[tuple[int, int], ...], cores: int | None, idle_s: float
) -> None:
    window = parse_window(text)
    assert (window.days, window.spans, window.cores, window.idle_s) == (
        days,
        spans,
        cores,
        idle_s,
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty schedule window"),
        ("weekdays", "days are mon, tue"),
        ("mon-fry 10:00-12:00", "days are mon, tue"),
        ("mon 10:00-10:00", "an empty span"),
        ("mon 25:00-26:00", "hours run from 00:00 to 24:00"),
        ("always 19:00-07:30", "'always' takes no hours"),
        ("mon cores=two", "cores=two must be a whole number"),
        ("mon idle=15", "idle=15: duration '15' cannot be read"),
        ("mon 10:00-12:00 fast", "'fast' is not cores=N or idle=DURATION"),
    ],
)
def test_a_bad_window_says_what_to_write(text: str, says: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_window(text)
    assert says in str(raised.value)


@pytest.mark.parametrize(
    ("moment", "covered"),
    [
        (at(MON, "03:00"), True),  # Monday morning is in "mon-fri 19:00-07:30"
        (at(MON, "07:29", 59), True),
        (at(MON, "07:30"), False),
        (at(MON, "18:59"), False),
        (at(MON, "19:00"), True),
        (at(SAT, "03:00"), False),  # Friday night's window ends at midnight
        (at(SUN, "23:00"), False),
    ],
)
def test_hours_are_those_of_the_days_named(moment: datetime, covered: bool) -> None:
    assert (NIGHTS_ONLY.window_at(moment) is not None) is covered


@pytest.mark.parametrize(
    ("policy", "now", "opens"),
    [
        (NIGHTS_ONLY, at(MON, "10:00"), at(MON, "19:00")),
        (NIGHTS_ONLY, at(SAT, "10:00"), at(MON + 7, "00:00")),
        (NIGHTS_ONLY, at(MON, "07:30"), at(MON, "19:00")),
        (Policy(windows=windows_from(["sun 22:00-23:00"])), at(SUN, "23:30"), at(SUN + 7, "22:00")),
        (Policy(windows=windows_from(["sun 22:00-23:00"])), at(MON, "00:00"), at(SUN, "22:00")),
    ],
)
def test_the_next_window_start(policy: Policy, now: datetime, opens: datetime) -> None:
    assert policy.next_start(now) == opens


# --------------------------------------------------------------------------- no task held


def _check(verdict: Verdict, state: PolicyState, reason: str, **expected: object) -> None:
    assert verdict.state is state, verdict
    assert reason in verdict.reason, verdict
    for name, value in expected.items():
        assert getattr(verdict, name) == value, (name, verdict)


@pytest.mark.parametrize(
    ("seen", "state", "reason", "cores", "next_work_at"),
    [
        # nights: the owner's keyboard does not count, all cores
        (facts(at(MON, "20:00"), idle_min=0), PolicyState.IN_SCHEDULE, "19:00-07:30", 8, None),
        (facts(at(TUE, "03:00"), idle_min=0), PolicyState.IN_SCHEDULE, "19:00-07:30", 8, None),
        # office hours: 2 cores once the owner has been idle 15 min
        (facts(at(MON, "10:00"), idle_min=20), PolicyState.IN_SCHEDULE, "cores=2", 2, None),
        (
            facts(at(MON, "10:00"), idle_min=5),
            PolicyState.OWNER_ACTIVE,
            "keyboard or mouse used 5m ago (needs 15m idle)",
            0,
            at(MON, "10:10"),
        ),
        # the idle time cannot be known here: not used
        (facts(at(MON, "10:00"), idle_min=None), PolicyState.IN_SCHEDULE, "cores=2", 2, None),
        # weekends: all day, all cores
        (facts(at(SAT, "12:00"), idle_min=0), PolicyState.IN_SCHEDULE, "sat,sun", 8, None),
        # load and memory hold it back in every window, with no time to promise
        (
            facts(at(MON, "20:00"), cpu=55),
            PolicyState.OWNER_ACTIVE,
            "other programs use 55 % of the CPU (limit 30 %)",
            0,
            None,
        ),
        (
            facts(at(MON, "20:00"), free=GiB // 2),
            PolicyState.OWNER_ACTIVE,
            "free memory 512.0 MiB (limit 1.0 GiB)",
            0,
            None,
        ),
        (
            facts(at(MON, "10:00"), idle_min=1, cpu=55),
            PolicyState.OWNER_ACTIVE,
            "keyboard or mouse used 1m ago",
            0,
            None,
        ),
    ],
)
def test_when_a_worker_may_take_work(
    seen: Facts, state: PolicyState, reason: str, cores: int, next_work_at: datetime | None
) -> None:
    _check(decide(OFFICE, seen, None), state, reason, cores=cores, next_work_at=next_work_at)


def test_outside_the_schedule_it_says_when_it_opens() -> None:
    verdict = decide(NIGHTS_ONLY, facts(at(SAT, "10:00")), None)
    _check(
        verdict,
        PolicyState.OUTSIDE_SCHEDULE,
        "outside its schedule (opens mon 00:00)",
        next_work_at=at(MON + 7, "00:00"),
        action=Action.NONE,
    )


# --------------------------------------------------------------------------- a task held


RUNNING_SINCE_0950 = Held(since=at(MON, "09:50"))
SUSPENDED_AT_1000 = Held(since=at(MON, "09:50"), suspended_since=at(MON, "10:00"))


@pytest.mark.parametrize(
    ("seen", "held", "state", "action", "reason"),
    [
        # running undisturbed
        (
            facts(at(MON, "10:00"), idle_min=31),
            RUNNING_SINCE_0950,
            PolicyState.IN_SCHEDULE,
            Action.NONE,
            "running a task",
        ),
        # the owner comes back: input after the task started -> suspend at once
        (
            facts(at(MON, "10:00"), idle_min=0.05),
            RUNNING_SINCE_0950,
            PolicyState.SUSPENDED,
            Action.SUSPEND,
            "keyboard or mouse used 3s ago",
        ),
        (
            facts(at(MON, "10:00"), cpu=80),
            RUNNING_SINCE_0950,
            PolicyState.SUSPENDED,
            Action.SUSPEND,
            "other programs use 80 %",
        ),
        (
            facts(at(MON, "10:00"), free=GiB // 4),
            RUNNING_SINCE_0950,
            PolicyState.SUSPENDED,
            Action.SUSPEND,
            "free memory 256.0 MiB",
        ),
        # at night the owner's keyboard does not suspend anything
        (
            facts(at(MON, "20:00"), idle_min=0),
            Held(since=at(MON, "19:30")),
            PolicyState.IN_SCHEDULE,
            Action.NONE,
            "running a task",
        ),
        # 07:30: the night's task goes on into office hours while the owner stays away...
        (
            facts(at(TUE, "07:31"), idle_min=30),
            Held(since=at(TUE, "03:00")),
            PolicyState.IN_SCHEDULE,
            Action.NONE,
            "running a task",
        ),
        # ... and is suspended as soon as they are back
        (
            facts(at(TUE, "07:31"), idle_min=1),
            Held(since=at(TUE, "03:00")),
            PolicyState.SUSPENDED,
            Action.SUSPEND,
            "keyboard or mouse used 1m ago",
        ),
        # suspended: stays so until the owner has been idle resume_idle_s (5 min)
        (
            facts(at(MON, "10:04"), idle_min=4),
            SUSPENDED_AT_1000,
            PolicyState.SUSPENDED,
            Action.NONE,
            "(needs 5m idle)",
        ),
        (
            facts(at(MON, "10:06"), idle_min=5.5),
            SUSPENDED_AT_1000,
            PolicyState.IN_SCHEDULE,
            Action.RESUME,
            "idle again",
        ),
        (
            facts(at(MON, "10:06"), idle_min=6, cpu=50),
            SUSPENDED_AT_1000,
            PolicyState.SUSPENDED,
            Action.NONE,
            "other programs use 50 %",
        ),
        # suspended for vacate_after_s (10 min): vacate, even if the owner just left
        (
            facts(at(MON, "10:10"), idle_min=0),
            SUSPENDED_AT_1000,
            PolicyState.VACATING,
            Action.VACATE,
            "suspended for 10m (vacate_after_s)",
        ),
        (
            facts(at(MON, "10:10"), idle_min=6),
            SUSPENDED_AT_1000,
            PolicyState.VACATING,
            Action.VACATE,
            "suspended for 10m",
        ),
    ],
)
def test_what_happens_to_a_running_task(
    seen: Facts, held: Held, state: PolicyState, action: Action, reason: str
) -> None:
    _check(decide(OFFICE, seen, held), state, reason, action=action)


@pytest.mark.parametrize("held", [RUNNING_SINCE_0950, SUSPENDED_AT_1000])
def test_the_window_closing_vacates_the_task(held: Held) -> None:
    verdict = decide(NIGHTS_ONLY, facts(at(TUE, "07:30")), held)
    _check(verdict, PolicyState.VACATING, "its schedule window closed", action=Action.VACATE)


def test_without_any_condition_the_worker_always_works() -> None:
    """The default policy (schedule `always`, nothing else) is the worker of before."""
    policy = Policy(default_cores=4)
    quiet = Facts(now=at(MON, "10:00"))
    busy = Facts(now=at(MON, "10:00"), idle_s=0, other_cpu_percent=100, free_memory=0)
    for seen in (quiet, busy):
        assert decide(policy, seen, None).cores == 4
        assert decide(policy, seen, Held(at(MON, "09:00"))).action is Action.NONE


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (40, "40s"), (125, "2m 5s"), (900, "15m"), (3660, "1h 1m")]
)
def test_durations_in_reasons(seconds: float, text: str) -> None:
    assert spell_seconds(seconds) == text


def test_a_resumed_task_is_suspended_again_on_fresh_input_only() -> None:
    """After a resume (owner idle 5 min < the window's 15), the task runs on; only input
    after the resume suspends it again, not the 15 min rule of starting."""
    resumed = Held(since=at(MON, "10:06"))
    calm = decide(OFFICE, facts(at(MON, "10:07"), idle_min=6.5), resumed)
    back = decide(OFFICE, facts(at(MON, "10:07"), idle_min=0.1), resumed)
    assert (calm.action, back.action) == (Action.NONE, Action.SUSPEND)

"""The owner comes first: pure decisions from facts (time, idle time, load, memory).

A worker on somebody's office PC may take work only in the windows of its schedule and,
where a window says so, only once the owner has left the keyboard and mouse alone for a
while; other programs' CPU load and free memory can hold it back too. When the owner
comes back during a task the solver is suspended, resumed when the machine is idle again,
and vacated (killed, the task handed back) after a grace time or when the window closes.

This module only decides: `decide(policy, facts, held)` says what state the worker is in
and what to do with its task. The facts come from `probes` (Windows, X11, psutil), the
actions are carried out by `owner`. So every transition has a table-driven test with a
fake clock, and a reader finds the whole policy in one page (docs/worker.md explains it).

Schedule windows are strings, the same in YAML, `WINJOBS_WORKER_SCHEDULE` (a JSON list)
and `--schedule` flags: `DAYS [HH:MM-HH:MM] [cores=N] [idle=DURATION]`, e.g.
`mon-fri 19:00-07:30`, `mon-fri 07:30-19:00 cores=2 idle=15m`, `sat,sun`, `always`.
Hours are the machine's local time, on the days named: `19:00-07:30` on `mon-fri` means
the mornings until 07:30 and the evenings from 19:00 of Monday to Friday (so Monday 00:00
to 07:30 is in it, Saturday 00:00 to 07:30 is not).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from winjobs.errors import ConfigError
from winjobs.ops.durations import elapsed_parts, parse_duration
from winjobs.ops.sizes import readable_size
from winjobs.wire import PolicyState

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_WINDOW_EXAMPLE = "e.g. 'mon-fri 19:00-07:30', 'mon-fri 07:30-19:00 cores=2 idle=15m', 'always'"


@dataclass(frozen=True)
class Window:
    """Days and hours in which the worker may take work, with how many cores, and how long
    the owner must have been idle first (0: the owner's keyboard and mouse do not count)."""

    text: str  #: as configured, for messages
    days: frozenset[int]  #: 0 = Monday
    spans: tuple[tuple[int, int], ...]  #: (start, end) minutes of each of those days
    cores: int | None = None  #: None: the worker's `cores`
    idle_s: float = 0.0

    def covers(self, moment: datetime) -> bool:
        if moment.weekday() not in self.days:
            return False
        minute = moment.hour * 60 + moment.minute + moment.second / 60
        return any(start <= minute < end for start, end in self.spans)

    def starts(self, moment: datetime) -> list[datetime]:
        """Where its spans of `moment`'s day begin (naive local times)."""
        if moment.weekday() not in self.days:
            return []
        midnight = datetime.combine(moment.date(), time())
        return [midnight + timedelta(minutes=start) for start, _ in self.spans]


def parse_window(text: str) -> Window:
    """One schedule window; ValueError saying what to write instead."""
    tokens = text.split()
    if not tokens:
        raise ValueError(f"empty schedule window: {_WINDOW_EXAMPLE}")
    days, rest = _parse_days(tokens[0]), tokens[1:]
    spans: tuple[tuple[int, int], ...] = ((0, DAY_MINUTES),)
    if rest and (hours := _HOURS.match(rest[0])):
        if tokens[0].lower() == "always":
            raise ValueError(f"{text!r}: 'always' takes no hours; name the days instead")
        spans = _spans(text, *(int(part) for part in hours.groups()))
        rest = rest[1:]
    options = dict(_option(text, token) for token in rest)
    cores = None
    if "cores" in options:
        if not options["cores"].isdigit():
            raise ValueError(f"{text!r}: cores={options['cores']} must be a whole number")
        cores = int(options["cores"]) or None  # 0 = all, like the worker's `cores`
    idle_s = 0.0
    if "idle" in options:
        try:
            idle_s = parse_duration(options["idle"]).total_seconds()
        except ConfigError as exc:
            raise ValueError(f"{text!r}: idle={options['idle']}: {exc}") from None
    return Window(text.strip(), days, spans, cores, idle_s)


def _parse_days(token: str) -> frozenset[int]:
    if token.lower() == "always":
        return frozenset(range(7))
    days: set[int] = set()
    for item in token.lower().split(","):
        first, _, last = item.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ValueError(
                f"{token!r}: days are mon, tue, wed, thu, fri, sat, sun, ranges (mon-fri) "
                f"or lists (sat,sun), or 'always'; {_WINDOW_EXAMPLE}"
            )
        start, end = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        days.update((start + step) % 7 for step in range((end - start) % 7 + 1))
    return frozenset(days)


def _spans(text: str, h1: int, m1: int, h2: int, m2: int) -> tuple[tuple[int, int], ...]:
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise ValueError(f"{text!r}: hours run from 00:00 to 24:00")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f"{text!r}: an empty span; leave the hours out for whole days")
    if start < end:
        return ((start, end),)
    return tuple(span for span in ((0, end), (start, DAY_MINUTES)) if span[0] < span[1])


def _option(text: str, token: str) -> tuple[str, str]:
    key, sep, value = token.partition("=")
    if not sep or key not in ("cores", "idle") or not value:
        raise ValueError(f"{text!r}: {token!r} is not cores=N or idle=DURATION; {_WINDOW_EXAMPLE}")
    return key, value


ALWAYS = parse_window("always")


@dataclass(frozen=True)
class Policy:
    """One worker's policy, from its settings."""

    windows: tuple[Window, ...] = (ALWAYS,)
    default_cores: int = 1  #: cores of a window that names none
    resume_idle_s: float = 300.0  #: a suspended task resumes once the owner is idle this long
    vacate_after_s: float = 600.0  #: ... and is vacated once suspended this long
    max_other_cpu_percent: float | None = None  #: CPU load of other programs (% of the machine)
    min_free_memory: int | None = None  #: bytes

    def window_at(self, moment: datetime) -> Window | None:
        """The first window covering `moment` (local time), None outside the schedule."""
        return next((w for w in self.windows if w.covers(moment)), None)

    def next_start(self, now: datetime) -> datetime | None:
        """When the schedule next opens after `now` (same zone as `now`); None: never."""
        naive = now.replace(tzinfo=None)
        starts = [
            start
            for offset in range(8)
            for window in self.windows
            for start in window.starts(naive + timedelta(days=offset))
            if start > naive
        ]
        return min(starts).replace(tzinfo=now.tzinfo) if starts else None


@dataclass(frozen=True)
class Facts:
    """What the probes saw at `now`. None: not known on this machine (not used)."""

    now: datetime  #: local time, timezone-aware
    idle_s: float | None = None  #: since the owner's last keyboard or mouse input
    other_cpu_percent: float | None = None  #: CPU load of programs other than the solver
    free_memory: int | None = None  #: bytes available


@dataclass(frozen=True)
class Held:
    """The task the worker holds: undisturbed since `since` (claimed, or last resumed)."""

    since: datetime
    suspended_since: datetime | None = None


class Action(StrEnum):
    NONE = "none"
    SUSPEND = "suspend"
    RESUME = "resume"
    VACATE = "vacate"


@dataclass(frozen=True)
class Verdict:
    state: PolicyState
    reason: str
    action: Action = Action.NONE
    cores: int = 0  #: what to claim with (in schedule, no task held)
    next_work_at: datetime | None = None


class _Phase(StrEnum):
    START = "start"
    RUN = "run"
    RESUME = "resume"


def decide(policy: Policy, facts: Facts, held: Held | None) -> Verdict:
    """The worker's state and what to do with its task, if it holds one."""
    window = policy.window_at(facts.now)
    if held is None:
        return _idle(policy, facts, window)
    if window is None:
        return Verdict(PolicyState.VACATING, "its schedule window closed", Action.VACATE)
    if held.suspended_since is None:
        if blockers := _blockers(policy, facts, window, held, _Phase.RUN):
            return Verdict(PolicyState.SUSPENDED, blockers[0], Action.SUSPEND)
        return Verdict(PolicyState.IN_SCHEDULE, f"running a task in window {window.text!r}")
    suspended_s = (facts.now - held.suspended_since).total_seconds()
    if suspended_s >= policy.vacate_after_s:
        reason = f"suspended for {spell_seconds(suspended_s)} (vacate_after_s)"
        return Verdict(PolicyState.VACATING, reason, Action.VACATE)
    if blockers := _blockers(policy, facts, window, held, _Phase.RESUME):
        return Verdict(PolicyState.SUSPENDED, blockers[0])
    return Verdict(PolicyState.IN_SCHEDULE, "the machine is idle again", Action.RESUME)


def _idle(policy: Policy, facts: Facts, window: Window | None) -> Verdict:
    if window is None:
        opens = policy.next_start(facts.now)
        when = f"opens {DAY_NAMES[opens.weekday()]} {opens:%H:%M}" if opens else "never opens"
        return Verdict(
            PolicyState.OUTSIDE_SCHEDULE, f"outside its schedule ({when})", next_work_at=opens
        )
    if blockers := _blockers(policy, facts, window, None, _Phase.START):
        return Verdict(
            PolicyState.OWNER_ACTIVE,
            blockers[0],
            next_work_at=_idle_enough_at(facts, window) if len(blockers) == 1 else None,
        )
    cores = window.cores or policy.default_cores
    return Verdict(
        PolicyState.IN_SCHEDULE, f"in window {window.text!r}", cores=cores, next_work_at=None
    )


def _idle_enough_at(facts: Facts, window: Window) -> datetime | None:
    """When the owner will have been idle long enough, if they stay away; None if the
    keyboard is not what holds the worker back."""
    if facts.idle_s is None or facts.idle_s >= window.idle_s:
        return None
    return facts.now + timedelta(seconds=window.idle_s - facts.idle_s)


def _blockers(
    policy: Policy, facts: Facts, window: Window, held: Held | None, phase: _Phase
) -> list[str]:
    """Why the owner comes first right now, most telling first; empty: nothing does."""
    reasons = []
    if window.idle_s > 0 and facts.idle_s is not None:
        needed = window.idle_s  # to start: idle for the window's time
        if phase is _Phase.RUN and held is not None:  # input since the task ran undisturbed
            needed = min(window.idle_s, (facts.now - held.since).total_seconds())
        elif phase is _Phase.RESUME:
            needed = min(window.idle_s, policy.resume_idle_s)
        if facts.idle_s < needed:
            reasons.append(
                f"keyboard or mouse used {spell_seconds(facts.idle_s)} ago"
                + ("" if phase is _Phase.RUN else f" (needs {spell_seconds(needed)} idle)")
            )
    limit, load = policy.max_other_cpu_percent, facts.other_cpu_percent
    if limit is not None and load is not None and load > limit:
        reasons.append(f"other programs use {load:.0f} % of the CPU (limit {limit:g} %)")
    floor = policy.min_free_memory
    if floor is not None and facts.free_memory is not None and facts.free_memory < floor:
        reasons.append(
            f"free memory {readable_size(facts.free_memory)} (limit {readable_size(floor)})"
        )
    return reasons


def spell_seconds(seconds: float) -> str:
    """`2m 5s`, `15m`, `40s`: a duration in a log line or a reason."""
    parts = elapsed_parts(seconds)
    return " ".join(f"{n}{unit}" for i, (n, unit) in enumerate(parts) if i == 0 or n)


def windows_from(texts: Sequence[str]) -> tuple[Window, ...]:
    """The schedule of a worker's settings (already validated)."""
    return tuple(parse_window(text) for text in texts)

"""Fair share and aging: the order of the queue when several users share the pool.

Pure, like `scheduler` (which asks it for the order): facts in, a sort key out; no
database, no clock (the caller passes `now`, in seconds since the epoch).

* Usage: each user's core-seconds (a task holds all of its worker's cores: a worker runs
  one task at a time), decayed with a half-life, running tasks included as they run. The
  store keeps, per user, the usage at one moment and the cores the user's running tasks
  hold since then (`Usage`), updated when one of the user's tasks starts or ends: what
  the user used at any later moment is then exact and O(1) (`used`), with no history
  summed at a claim (issue 14: the claim is the driver's hot path).
* Fair share (`scheduling: fair_share`): within an effective priority, the job of the
  user whose usage divided by weight is lowest goes first, then first come first served.
  `strict`: first come first served within an effective priority (the original order).
* Aging: a queued job's effective priority is its priority plus `aging_per_hour` points
  per hour since it was submitted, at most `aging_max` points. It lifts a job to a higher
  priority level, so that nothing waits forever behind higher priorities: the job joins
  the highest priority among the active jobs' that its effective priority reaches, and
  is ordered there like that level's jobs (by fair share, then first come). It does not
  reorder jobs of one level: otherwise any job a few hours older would pass every fresher
  job of its level, and fair share would decide nothing (benchmarks/sim_fairshare.py
  measured it: the light users' longest waits went from 15 h back to 20-47 h). Applies
  in both modes; `aging_per_hour: 0` turns it off.

docs/driver.md ("Fair share and aging") says it for users; benchmarks/sim_fairshare.py
measures what it changes over a month of submissions.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from winjobs.driver.settings import DriverSettings, Scheduling

if TYPE_CHECKING:  # scheduler imports this module
    from winjobs.driver.scheduler import JobFacts

_LN2 = math.log(2.0)
HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class OrderRules:
    """The settings the order follows (`DriverSettings.order_rules`)."""

    scheduling: Scheduling = Scheduling.FAIR_SHARE
    half_life_s: float = DAY
    #: users' weights (admins set them); a user not listed weighs 1
    weights: Mapping[str, float] = field(default_factory=dict)
    aging_per_hour: float = 0.0
    aging_max: int = 0

    def weight(self, user: str) -> float:
        return self.weights.get(user, 1.0)


#: fair share with no aging (the rules' defaults); the original order: priority, then
#: first come first served
FAIR_SHARE = OrderRules()
STRICT = OrderRules(scheduling=Scheduling.STRICT)


class Usage(NamedTuple):
    """A user's usage as the store keeps it (one row per user, `user_usage`)."""

    core_seconds: float  #: decayed usage at `at`
    running_cores: int  #: cores the user's running tasks hold since `at`
    at: float  #: seconds since the epoch


NO_USAGE = Usage(0.0, 0, 0.0)


def used(usage: Usage, now: float, half_life_s: float) -> float:
    """The user's decayed core-seconds at `now`: what was used by `at`, halved every
    half-life, plus what the running cores used since, each second decayed from when it
    was used (the integral of `running_cores * 2 ** (-(now - t) / half_life)`)."""
    elapsed = max(0.0, now - usage.at)
    kept = math.exp(-elapsed * _LN2 / half_life_s)
    since = usage.running_cores * half_life_s / _LN2 * (1.0 - kept)
    return usage.core_seconds * kept + since


def settled(usage: Usage, running_cores: int, now: float, half_life_s: float) -> Usage:
    """The usage to store when the user's running cores change at `now` (a task of
    theirs started or ended)."""
    return Usage(used(usage, now, half_life_s), running_cores, now)


def aged_priority(priority: int, waited_s: float, rules: OrderRules) -> int:
    """The priority a job competes with after waiting `waited_s` since it was submitted."""
    if rules.aging_per_hour <= 0 or rules.aging_max <= 0 or waited_s <= 0:
        return priority
    return priority + min(rules.aging_max, int(waited_s / HOUR * rules.aging_per_hour))


def effective_priority(job: JobFacts, now: float, rules: OrderRules) -> int:
    """The priority the job competes with now (`aged_priority` since it was submitted)."""
    return aged_priority(job.priority, now - job.submitted_at, rules)


OrderKey = tuple[int, float, float, int]
Order = Callable[["JobFacts"], OrderKey]


def level(effective: int, levels: Sequence[int]) -> int:
    """The highest of the (ascending) `levels` that `effective` reaches; itself if none."""
    found = bisect.bisect_right(levels, effective)
    return levels[found - 1] if found else effective


def ranking(
    usage: Mapping[str, Usage], now: float, rules: OrderRules, jobs: Iterable[JobFacts] = ()
) -> Order:
    """The sort key of the queue: the priority level the job competes at (highest
    first: its own, or a higher one of `jobs`, the active jobs, its aged priority
    reaches), then, with fair share, the user's usage per weight and running cores per
    weight (lowest first: two users who used nothing yet are told apart by what runs
    now), then the job id."""
    fair = rules.scheduling is Scheduling.FAIR_SHARE
    levels = sorted({job.priority for job in jobs})
    loads = {
        user: (used(u, now, rules.half_life_s) / rules.weight(user), u.running_cores)
        for user, u in usage.items()
    }

    def key(job: JobFacts) -> OrderKey:
        competes = max(job.priority, level(effective_priority(job, now, rules), levels))
        if not fair:
            return (-competes, 0.0, 0.0, job.id)
        load, cores = loads.get(job.user, (0.0, 0))
        return (-competes, load, cores / rules.weight(job.user), job.id)

    return key


def strict_order(job: JobFacts) -> OrderKey:
    """The original order (no usage, no aging): what `ranking` gives with `STRICT`."""
    return (-job.priority, 0.0, 0.0, job.id)


@dataclass(frozen=True)
class Share:
    """One user's line of the shares table (dashboard, API)."""

    user: str
    weight: float
    core_hours: float  #: decayed usage now
    running_cores: int
    used: float  #: fraction of all users' decayed usage
    entitled: float  #: fraction of the weights of the users listed


def shares(
    usage: Mapping[str, Usage], users: Iterable[str], now: float, rules: OrderRules
) -> list[Share]:
    """The users' shares, the least used per weight first (the order fair share serves
    them in): every user with a usage row, plus `users` (active submitters, weighted)."""
    names = sorted(set(usage) | set(users))
    spent = {name: used(usage.get(name, NO_USAGE), now, rules.half_life_s) for name in names}
    total_used = sum(spent.values())
    total_weight = sum(rules.weight(name) for name in names)
    lines = [
        Share(
            user=name,
            weight=rules.weight(name),
            core_hours=spent[name] / HOUR,
            running_cores=usage.get(name, NO_USAGE).running_cores,
            used=spent[name] / total_used if total_used > 0 else 0.0,
            entitled=rules.weight(name) / total_weight if total_weight > 0 else 0.0,
        )
        for name in names
    ]
    return sorted(lines, key=lambda s: (s.core_hours / s.weight, s.running_cores, s.user))


def order_rules(settings: DriverSettings) -> OrderRules:
    """The order's rules as the driver is configured."""
    return OrderRules(
        scheduling=settings.scheduling,
        half_life_s=settings.fair_share_half_life_h * HOUR,
        weights=dict(settings.fair_share_weights),
        aging_per_hour=settings.aging_points_per_hour,
        aging_max=settings.aging_max_points,
    )

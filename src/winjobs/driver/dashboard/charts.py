"""The dashboard's two charts as plain SVG geometry: pure functions, no I/O, no script.

Drawn on the server (the templates lay the points into an inline `<svg>`), so they show
without JavaScript, pass the pages' content security policy, refresh with the rest of
the live part, and each rule has a unit test:

* a job's years done over time, a step up at each task's end, the running tasks' reported
  years at `now`, and the ETA as a dashed line from there to all years done;
* the pool's utilisation (busy cores / online cores) over the last hours, from the
  driver's load samples (`GET /api/v1/status/load`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from winjobs.wire import LoadPoint, TaskInfo, TaskStatus

WIDTH = 600  #: the charts' viewBox, in SVG units (the page scales it)
HEIGHT = 160


@dataclass(frozen=True)
class Chart:
    """What a template needs to draw one chart."""

    points: str  #: the polyline's `x,y x,y ...`, in the viewBox
    start: datetime  #: the time at the left edge
    end: datetime  #: the time at the right edge
    top: str  #: what the top edge means ("8 years", "100 %")
    summary: str  #: the chart in one sentence (its accessible description)
    eta_points: str = ""  #: the ETA's dashed line, when there is one


def _x(moment: datetime, start: datetime, seconds: float) -> float:
    return round(WIDTH * (moment - start).total_seconds() / seconds, 1)


def _y(value: float, top: float) -> float:
    return round(HEIGHT - HEIGHT * min(max(value / top, 0.0), 1.0), 1)


def years_done_chart(
    tasks: Sequence[TaskInfo],
    years_total: int,
    started_at: datetime | None,
    now: datetime,
    eta_seconds: float | None,
) -> Chart | None:
    """A job's years done over time, with its ETA; None before it started."""
    if started_at is None or years_total <= 0:
        return None
    ends = sorted(
        (t.finished_at, len(t.years))
        for t in tasks
        if t.status is TaskStatus.SUCCEEDED and t.finished_at is not None
    )
    last = max([now, *(moment for moment, _ in ends)])
    running = sum(t.years_done for t in tasks if t.status is TaskStatus.RUNNING)
    finish = last + timedelta(seconds=eta_seconds) if eta_seconds else None
    right = finish or last
    seconds = max((right - started_at).total_seconds(), 1.0)
    done = 0
    steps = [(started_at, 0)]
    for moment, years in ends:
        steps += [(moment, done), (moment, done + years)]
        done += years
    steps.append((last, done + running))
    points = " ".join(f"{_x(m, started_at, seconds)},{_y(v, years_total)}" for m, v in steps)
    eta = ""
    if finish is not None:
        eta = (
            f"{_x(last, started_at, seconds)},{_y(done + running, years_total)} "
            f"{_x(finish, started_at, seconds)},{_y(years_total, years_total)}"
        )
    summary = f"{done + running} of {years_total} years done"
    if finish is not None:
        summary += f"; all done by {finish:%H:%M} UTC at the estimated pace"
    return Chart(points, started_at, right, f"{years_total} years", summary, eta)


def utilisation_chart(samples: Sequence[LoadPoint], now: datetime, hours: float) -> Chart | None:
    """Busy cores / online cores over the last `hours`; None without two samples."""
    if len(samples) < 2:
        return None
    start = now - timedelta(hours=hours)
    seconds = hours * 3600
    values = [(s.at, s.cores_busy / s.cores_total if s.cores_total else 0.0) for s in samples]
    points = " ".join(f"{_x(m, start, seconds)},{_y(v, 1.0)}" for m, v in values if m >= start)
    mean = sum(v for _, v in values) / len(values)
    summary = (
        f"pool utilisation over the last {hours:g} h: {round(100 * mean)} % of the online "
        f"cores busy on average, {round(100 * values[-1][1])} % now"
    )
    return Chart(points, start, now, "100 %", summary)

"""What the pages show, computed from the wire models: pure functions, no I/O.

Kept apart from the routes and the templates so that each rule (how a duration reads,
where a task's bar sits on the timeline, which filters a query string asks for) has a
plain unit test, and the templates only lay things out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar
from urllib.parse import quote

from winjobs.driver.store import describe_years
from winjobs.ops.durations import elapsed_parts
from winjobs.wire import JobStatus, TaskInfo, TaskStatus

MIN_BAR_PERCENT = 0.8  #: a task of a few seconds in a long job stays visible


_UNIT_WORDS = {"d": "d", "h": "h", "m": "min", "s": "s"}


def duration(seconds: float | None) -> str:
    """`45 s`, `3 min 05 s`, `2 h 10 min`, `3 d 04 h`; an em dash when unknown."""
    if seconds is None:
        return "—"
    (amount, unit), *rest = elapsed_parts(seconds)
    words = [f"{amount} {_UNIT_WORDS[unit]}", *(f"{n:02d} {_UNIT_WORDS[u]}" for n, u in rest)]
    return " ".join(words)


def age(seconds: float | None) -> str:
    """A coarse duration for ages and "last seen": it changes once a minute at most, so a
    refreshed row (read out by screen readers) changes only when something happened."""
    if seconds is None or seconds >= 3600:
        return duration(seconds)
    minutes = max(0, int(seconds)) // 60
    return f"{minutes} min" if minutes else "< 1 min"


def since(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else (now - moment).total_seconds()


def until(moment: datetime, now: datetime) -> float:
    """Seconds from now to a moment to come (0 once it has passed)."""
    return max(0.0, (moment - now).total_seconds())


def elapsed(start: datetime | None, end: datetime | None, now: datetime) -> float | None:
    if start is None:
        return None
    return max(0.0, ((end or now) - start).total_seconds())


def timestamp(moment: datetime | None) -> str:
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def percent(done: int, total: int) -> int:
    if total <= 0:
        return 0
    return max(0, min(100, (100 * done) // total))


def years(values: Iterable[int]) -> str:
    """0-based years as users read them (1-based, runs collapsed)."""
    return describe_years(list(values))


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class JobFilters:
    """The jobs page's query string, understood."""

    status: JobStatus | None = None
    submitter: str | None = None
    page: int = 1
    problems: tuple[str, ...] = ()

    def query(self, page: int | None = None) -> str:
        """The query string of these filters (for links: pager, fragment)."""
        parts = []
        if self.status is not None:
            parts.append(f"status={self.status.value}")
        if self.submitter:
            parts.append(f"submitter={quote(self.submitter, safe='')}")
        number = self.page if page is None else page
        if number > 1:
            parts.append(f"page={number}")
        return "?" + "&".join(parts) if parts else ""


def parse_filters(params: Mapping[str, str]) -> JobFilters:
    """Unknown values are dropped with a note rather than refused: a stale bookmark
    still shows the jobs."""
    problems: list[str] = []
    status: JobStatus | None = None
    raw_status = params.get("status", "").strip()
    if raw_status:
        try:
            status = JobStatus(raw_status)
        except ValueError:
            problems.append(f"unknown status {raw_status!r}: showing every status")
    submitter = params.get("submitter", "").strip() or None
    page = _page(params.get("page", "").strip())
    return JobFilters(status=status, submitter=submitter, page=page, problems=tuple(problems))


#: more pages than any queue has; a larger number would overflow the database's offset
_MAX_PAGE = 1_000_000


def _page(raw: str) -> int:
    """The page asked for, else the first (`²` passes str.isdigit but not int())."""
    if raw.isascii() and raw.isdigit() and 0 < int(raw) <= _MAX_PAGE:
        return int(raw)
    return 1


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    count: int  #: pages in all (at least 1)
    total: int  #: items in all


def page_count(total: int, size: int) -> int:
    """Pages needed for `total` items, `size` a page; at least 1 (an empty list)."""
    return max(1, -(-total // size))


def page_offset(number: int, size: int) -> int:
    """Items before page `number` (1-based): what the store skips to fetch it."""
    return (max(1, number) - 1) * size


# --------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class Bar:
    """One task's latest attempt on its worker's lane; geometry in percent of the span."""

    task: TaskInfo
    left: float
    width: float
    seconds: float


@dataclass
class Lane:
    worker: str
    bars: list[Bar] = field(default_factory=list)


@dataclass(frozen=True)
class Timeline:
    start: datetime
    end: datetime
    lanes: list[Lane]

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def timeline(tasks: Iterable[TaskInfo], now: datetime) -> Timeline | None:
    """Tasks that started, as bars on one lane per worker, in order of first start.

    The store keeps each task's latest attempt (worker, start, end); earlier attempts
    show in the task's attempt count and its log. A queued task (new, or waiting for
    another attempt) has no bar.
    """
    started = [t for t in tasks if t.started_at is not None and t.status is not TaskStatus.QUEUED]
    if not started:
        return None
    started.sort(key=lambda t: (t.started_at or now, t.id))
    begin = min(t.started_at or now for t in started)
    finish = max(t.finished_at or now for t in started)
    span = max((finish - begin).total_seconds(), 1.0)
    lanes: dict[str, Lane] = {}
    for task in started:
        assert task.started_at is not None
        end = task.finished_at or now
        offset = (task.started_at - begin).total_seconds()
        seconds = max(0.0, (end - task.started_at).total_seconds())
        left = min(100.0 - MIN_BAR_PERCENT, 100.0 * offset / span)
        width = min(100.0 - left, max(MIN_BAR_PERCENT, 100.0 * seconds / span))
        worker = task.worker or "unknown worker"
        lanes.setdefault(worker, Lane(worker)).bars.append(
            Bar(task=task, left=round(left, 2), width=round(width, 2), seconds=seconds)
        )
    return Timeline(start=begin, end=finish, lanes=list(lanes.values()))


@dataclass(frozen=True)
class Place:
    """Where some finished years of a job are kept (shared mode links them from workers)."""

    location: str
    years: str


def year_places(tasks: Iterable[TaskInfo]) -> list[Place]:
    """Finished years grouped by where their output lives, by first year; empty when
    all are on the driver (HTTP mode), which needs no saying."""
    by_place: dict[str, list[int]] = {}
    done = [t for t in tasks if t.status is TaskStatus.SUCCEEDED]
    if not any(t.output_location for t in done):
        return []
    for task in done:
        by_place.setdefault(task.output_location or "on the driver", []).extend(task.years)
    ordered = sorted(by_place.items(), key=lambda item: min(item[1]))
    return [Place(location, years(values)) for location, values in ordered]


def log_tail(text: str, lines: int) -> tuple[str, bool]:
    """The last `lines` lines of a log, and whether some were left out."""
    kept = text.splitlines()
    if len(kept) <= lines:
        return text, False
    return "\n".join(kept[-lines:]) + "\n", True

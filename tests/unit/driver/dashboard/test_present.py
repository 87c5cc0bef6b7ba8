"""The dashboard's presentation rules, without any server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from winjobs.driver.dashboard import present
from winjobs.wire import JobStatus, TaskInfo, TaskStatus

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0, "0 s"),
        (44.6, "45 s"),
        (65, "1 min 05 s"),
        (3600 + 600, "1 h 10 min"),
        (3 * 86400 + 4 * 3600 + 59, "3 d 4 h"),
        (-5, "0 s"),
    ],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert present.duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (59.9, "< 1 min"), (60, "1 min"), (3599, "59 min"), (7260, "2 h 01 min")],
)
def test_age_changes_at_most_once_a_minute(seconds: float | None, text: str) -> None:
    assert present.age(seconds) == text


def test_percent_is_clamped() -> None:
    assert [present.percent(d, t) for d, t in ((0, 0), (1, 3), (3, 3), (5, 3))] == [0, 33, 100, 100]


def test_filters_from_the_query_string() -> None:
    filters = present.parse_filters({"status": "running", "submitter": " bob ", "page": "2"})
    assert (filters.status, filters.submitter, filters.page) == (JobStatus.RUNNING, "bob", 2)
    assert filters.query() == "?status=running&submitter=bob&page=2"
    assert filters.query(page=1) == "?status=running&submitter=bob"
    assert present.parse_filters({}).query() == ""
    odd = present.parse_filters({"status": "lost", "page": "-3", "submitter": "a b&c"})
    assert odd.status is None and odd.page == 1
    assert odd.problems == ("unknown status 'lost': showing every status",)
    assert odd.query() == "?submitter=a%20b%26c"


def test_page_count_and_offset() -> None:
    assert [present.page_count(total, 10) for total in (0, 1, 10, 11, 25)] == [1, 1, 1, 2, 3]
    assert [present.page_offset(number, 10) for number in (1, 2, 3)] == [0, 10, 20]
    assert present.page_offset(0, 10) == 0


def task(
    task_id: int,
    years: list[int],
    status: TaskStatus,
    worker: str | None,
    start: float | None,
    end: float | None,
    location: str | None = None,
) -> TaskInfo:
    return TaskInfo(
        id=task_id,
        job_id=1,
        years=years,
        status=status,
        worker=worker,
        attempts=1 if start is not None else 0,
        created_at=T0,
        started_at=None if start is None else T0 + timedelta(seconds=start),
        finished_at=None if end is None else T0 + timedelta(seconds=end),
        output_location=location,
    )


def test_timeline_lanes_and_geometry() -> None:
    tasks = [
        task(1, [0, 1], TaskStatus.SUCCEEDED, "w1", 0, 50),
        task(2, [2, 3], TaskStatus.RUNNING, "w2", 10, None),
        task(3, [4], TaskStatus.FAILED, "w1", 60, 60.1),
        task(4, [5], TaskStatus.QUEUED, None, None, None),
    ]
    now = T0 + timedelta(seconds=100)
    line = present.timeline(tasks, now)
    assert line is not None
    assert (line.start, line.end, line.seconds) == (T0, now, 100)
    assert [lane.worker for lane in line.lanes] == ["w1", "w2"]
    w1, w2 = line.lanes
    assert [(b.task.id, b.left, b.width) for b in w1.bars] == [(1, 0, 50), (3, 60, 0.8)]
    assert [(b.task.id, b.left, b.width, b.seconds) for b in w2.bars] == [(2, 10, 90, 90)]


def test_no_timeline_before_a_task_starts() -> None:
    assert present.timeline([task(1, [0], TaskStatus.QUEUED, None, None, None)], T0) is None


def test_a_bar_never_leaves_the_track() -> None:
    tasks = [
        task(1, [0], TaskStatus.SUCCEEDED, "w1", 0, 100),
        task(2, [1], TaskStatus.RUNNING, "w2", 100, None),
    ]
    line = present.timeline(tasks, T0 + timedelta(seconds=100))
    assert line is not None
    bar = line.lanes[1].bars[0]
    assert bar.left + bar.width <= 100 and bar.width >= present.MIN_BAR_PERCENT


def test_year_places_only_in_shared_mode() -> None:
    http_mode = [task(1, [0, 1], TaskStatus.SUCCEEDED, "w1", 0, 1)]
    assert present.year_places(http_mode) == []
    shared = [
        task(1, [0, 1], TaskStatus.SUCCEEDED, "w1", 0, 1, location=r"\\pc-01\winjobs"),
        task(2, [2], TaskStatus.SUCCEEDED, "w2", 0, 1),
        task(3, [3], TaskStatus.RUNNING, "w1", 0, None, location="ignored: not finished"),
        task(4, [4], TaskStatus.SUCCEEDED, "w1", 1, 2, location=r"\\pc-01\winjobs"),
    ]
    assert present.year_places(shared) == [
        present.Place(r"\\pc-01\winjobs", "1-2, 5"),
        present.Place("on the driver", "3"),
    ]


def test_log_tail() -> None:
    text = "".join(f"line {i}\n" for i in range(10))
    assert present.log_tail(text, 20) == (text, False)
    tail, cut = present.log_tail(text, 3)
    assert (tail, cut) == ("line 7\nline 8\nline 9\n", True)

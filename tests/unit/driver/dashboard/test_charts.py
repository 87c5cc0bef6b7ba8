"""The charts' geometry (dashboard/charts.py): where the points fall, what they say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from winjobs.driver.dashboard.charts import utilisation_chart, years_done_chart
from winjobs.wire import LoadPoint, TaskInfo, TaskStatus

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def task(
    id: int, years: list[int], status: TaskStatus, end_min: float | None = None, done: int = 0
) -> TaskInfo:
    return TaskInfo(
        id=id,
        job_id=1,
        years=years,
        status=status,
        created_at=T0,
        started_at=T0,
        finished_at=T0 + timedelta(minutes=end_min) if end_min is not None else None,
        years_done=done,
    )


def test_years_done_steps_at_each_task_end_then_the_eta_line() -> None:
    tasks = [
        task(1, [0, 1], TaskStatus.SUCCEEDED, end_min=10),
        task(2, [2, 3], TaskStatus.RUNNING, done=1),
        task(3, [4, 5, 6, 7], TaskStatus.QUEUED),
    ]
    now = T0 + timedelta(minutes=20)
    chart = years_done_chart(tasks, 8, T0, now, eta_seconds=20 * 60)
    assert chart is not None
    # 40 minutes across 600 units: the step at 10 min is x=150; now (20 min) x=300
    assert chart.points == "0.0,160.0 150.0,160.0 150.0,120.0 300.0,100.0"
    assert chart.eta_points == "300.0,100.0 600.0,0.0"
    assert chart.summary == "3 of 8 years done; all done by 10:40 UTC at the estimated pace"
    assert (chart.start, chart.end, chart.top) == (T0, now + timedelta(minutes=20), "8 years")


def test_no_eta_no_dashed_line_and_no_chart_before_the_start() -> None:
    chart = years_done_chart([task(1, [0], TaskStatus.RUNNING)], 4, T0, T0, None)
    assert chart is not None and chart.eta_points == "" and chart.summary == "0 of 4 years done"
    assert years_done_chart([], 4, None, T0, None) is None


def test_utilisation_is_busy_over_online_cores_in_the_window() -> None:
    now = T0 + timedelta(hours=6)

    def point(hours: float, busy: int, total: int) -> LoadPoint:
        at = T0 + timedelta(hours=hours)
        return LoadPoint(
            at=at, workers_online=1, workers_busy=1, cores_total=total, cores_busy=busy
        )

    samples = [point(0, 0, 8), point(3, 4, 8), point(6, 8, 8), point(6, 0, 0)]
    chart = utilisation_chart(samples, now, hours=6)
    assert chart is not None
    assert chart.points == "0.0,160.0 300.0,80.0 600.0,0.0 600.0,160.0"
    assert chart.summary == (
        "pool utilisation over the last 6 h: 38 % of the online cores busy on average, 0 % now"
    )
    assert utilisation_chart(samples[:1], now, hours=6) is None

"""Tables for humans (years 1-based) and JSON for scripts (the wire model, 0-based)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from rich.console import Console, RenderableType

from tests.unit.cli.fake_driver import T0, make_job, make_task
from winjobs.cli.follow import eta_text, summary_line
from winjobs.cli.render import (
    format_age,
    format_seconds,
    job_view,
    jobs_table,
    next_work,
    pools_view,
    to_json,
    workers_table,
)
from winjobs.wire import (
    JobStatus,
    PilotInfo,
    PilotPool,
    PolicyState,
    TaskStatus,
    WorkerInfo,
    WorkerState,
    WorkerTask,
)

NOW = T0 + timedelta(minutes=5)


def text(renderable: RenderableType) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def rows(renderable: RenderableType) -> list[list[str]]:
    return [line.split() for line in text(renderable).splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (44.6, "45s"),
        (60, "1m 00s"),
        (125, "2m 05s"),
        (3720, "1h 02m"),
        (90000, "1d 01h"),
        (-3, "0s"),
    ],
)
def test_format_seconds(seconds: float, shown: str) -> None:
    assert format_seconds(seconds) == shown


def test_format_age_is_coarse() -> None:
    assert format_age(T0, T0 + timedelta(seconds=12)) == "12s"
    assert format_age(T0, T0 + timedelta(minutes=5, seconds=59)) == "5m"
    assert format_age(T0, T0 + timedelta(hours=3)) == "3h"
    assert format_age(T0, T0 + timedelta(days=2, hours=23)) == "2d"
    assert format_age(T0, T0 - timedelta(seconds=5)) == "0s"  # clock skew: never negative


def test_jobs_table_has_one_row_per_job_with_progress() -> None:
    jobs = [
        make_job(
            2, name="winter", priority=80, status=JobStatus.RUNNING, years_done=3, tasks_running=2
        ),
        make_job(1, name="summer", submitter="bob", status=JobStatus.SUCCEEDED, years_done=10),
    ]
    table = rows(jobs_table(jobs, NOW))
    assert table[0] == ["ID", "NAME", "SUBMITTER", "PRIO", "STATUS", "PROGRESS", "AGE", "WAITING"]
    assert table[1] == [
        "2",
        "winter",
        "alice",
        "80",
        "running",
        "3/10",
        "(30%),",
        "2",
        "running",
        "5m",
    ]
    assert table[2] == ["1", "summer", "bob", "50", "succeeded", "10/10", "(100%)", "5m"]


def test_job_view_shows_years_one_based_per_task() -> None:
    job = make_job(
        4,
        status=JobStatus.RUNNING,
        years_done=2,
        started_at=T0,
        tasks=[
            make_task(
                11,
                4,
                [4, 5, 6],
                status=TaskStatus.RUNNING,
                worker="pc-02",
                attempts=2,
                years_done=1,
                started_at=NOW - timedelta(seconds=30),
            ),
            make_task(
                10,
                4,
                [0, 1],
                status=TaskStatus.SUCCEEDED,
                worker="pc-01",
                attempts=1,
                years_done=2,
                started_at=T0,
                finished_at=T0 + timedelta(seconds=75),
            ),
            make_task(
                12,
                4,
                [7],
                status=TaskStatus.FAILED,
                worker="pc-01",
                attempts=3,
                error="solver exited with status 1",
            ),
        ],
    )
    shown = text(job_view(job, NOW))
    assert "years      1-10 (10 years)" in shown
    assert "progress   2/10 (20%)" in shown
    table = [line.split() for line in shown.splitlines() if line.strip()]
    header = table.index(["TASK", "YEARS", "WORKER", "ATTEMPTS", "STATUS", "DONE", "DURATION"])
    assert table[header + 1] == ["10", "1-2", "pc-01", "1", "succeeded", "2/2", "1m", "15s"]
    assert table[header + 2] == ["11", "5-7", "pc-02", "2", "running", "1/3", "30s"]
    assert table[header + 3][:5] == ["12", "8", "pc-01", "3", "failed:"]
    assert "solver exited with status 1" in shown


def test_queued_job_without_tasks_says_why() -> None:
    assert "no task yet: tasks are cut when workers ask for work" in text(
        job_view(make_job(1), NOW)
    )


def test_show_json_keeps_the_wire_contract_years_zero_based() -> None:
    job = make_job(4, years=[0, 2], tasks=[make_task(9, 4, [0, 2], worker="pc", attempts=1)])
    data = json.loads(to_json(job))
    for key in ("id", "status", "priority", "years_total", "years_done", "tasks"):
        assert key in data
    assert data["status"] == "queued"
    task = data["tasks"][0]
    assert {k: task[k] for k in ("id", "years", "status", "worker", "attempts")} == {
        "id": 9,
        "years": [0, 2],
        "status": "queued",
        "worker": "pc",
        "attempts": 1,
    }


def test_workers_table() -> None:
    workers = [
        WorkerInfo(
            id=1,
            name="pc-01",
            os="Windows-10",
            cores=16,
            versions=["8.8", "9.2"],
            state=WorkerState.BUSY,
            current_task=7,
            current_job=3,
            last_seen=NOW - timedelta(seconds=4),
            registered_at=T0,
            policy=PolicyState.IN_SCHEDULE,
        ),
        WorkerInfo(
            id=2,
            name="pc-02",
            os="Linux",
            cores=4,
            versions=["8.8"],
            state=WorkerState.OFFLINE,
            last_seen=T0,
            registered_at=T0,
        ),
    ]
    uploading = workers[0].model_copy(
        update={
            "tasks": [WorkerTask(task_id=8, job_id=3), WorkerTask(task_id=7, job_id=3)],
            "current_task": 8,
        }
    )
    both = rows(workers_table([uploading], NOW))
    assert len(both) == 2  # the header and one line for the worker, with both tasks
    assert " ".join(both[1]) == (
        "pc-01 16 8.8, 9.2 busy in schedule after its task task 8 (job 3), task 7 (job 3) 4s ago"
    )
    table = rows(workers_table(workers, NOW))  # from a driver that sends only current_task
    assert table[1] == [
        "pc-01",
        "16",
        "8.8,",
        "9.2",
        "busy",
        "in",
        "schedule",
        "after",
        "its",
        "task",
        "task",
        "7",
        "(job",
        "3)",
        "4s",
        "ago",
    ]
    assert table[2] == ["pc-02", "4", "8.8", "offline", "-", "-", "-", "5m", "ago"]


def test_next_work_of_a_worker() -> None:
    base = WorkerInfo(
        id=1,
        name="pc",
        os="Windows-10",
        cores=4,
        versions=["8.8"],
        state=WorkerState.IDLE,
        last_seen=NOW,
        registered_at=T0,
    )
    opens = NOW + timedelta(hours=2, minutes=5)
    cases = [
        ({}, "-"),  # a worker that reports no policy
        ({"policy": PolicyState.IN_SCHEDULE}, "now"),
        ({"policy": PolicyState.OWNER_ACTIVE}, "when its owner leaves"),
        ({"policy": PolicyState.OWNER_ACTIVE, "state": WorkerState.DRAINING}, "-"),
        (
            {"policy": PolicyState.OUTSIDE_SCHEDULE, "next_work_at": opens},
            f"{opens.astimezone():%a %H:%M} (in 2h 05m)",
        ),
        (
            {"policy": PolicyState.OUTSIDE_SCHEDULE, "next_work_at": NOW},
            f"{NOW.astimezone():%a %H:%M}",
        ),
    ]
    for update, text in cases:
        assert next_work(base.model_copy(update=update), NOW) == text, update


def test_eta_prefers_the_driver_then_the_pace_so_far() -> None:
    running = make_job(1, status=JobStatus.RUNNING, started_at=T0, years_done=2)
    assert eta_text(running.model_copy(update={"eta_seconds": 42.0}), NOW) == "42s"
    assert eta_text(running, NOW) == "20m 00s"  # 2 years in 5 min, 8 to go
    assert eta_text(running.model_copy(update={"years_done": 0}), NOW) == "-"
    done = running.model_copy(update={"status": JobStatus.SUCCEEDED, "eta_seconds": 3.0})
    assert eta_text(done, NOW) == "-"
    assert summary_line(running, NOW) == "job 1 running: 2/10 years, eta 20m 00s"


def test_pools_show_their_pilots_with_slurms_words() -> None:
    pool = PilotPool(
        name="hpc",
        manager="login01",
        partition="long",
        max_pilots=4,
        reported_at=NOW - timedelta(seconds=12),
        problem="sbatch refused a pilot: sbatch: error: QOSMaxSubmitJobPerUserLimit",
        pilots=[
            PilotInfo(job_id="4242", state="RUNNING", node="node07", worker="hpc-4242-node07",
                      cores=16, submitted_at=NOW - timedelta(minutes=20),
                      ends_at=NOW + timedelta(hours=1, minutes=30)),
            PilotInfo(job_id="4243", state="PENDING", reason="Priority", cores=16,
                      submitted_at=NOW - timedelta(seconds=30)),
        ],
    )  # fmt: skip
    lines = text(pools_view([pool], NOW)).splitlines()
    assert lines[1] == (
        "Slurm pool hpc (partition long, manager login01, 2/4 pilots, reported 12s ago)"
    )
    assert lines[2] == "sbatch refused a pilot: sbatch: error: QOSMaxSubmitJobPerUserLimit"
    assert lines[3].split() == [
        "JOB", "ID", "STATE", "REASON", "NODE", "WORKER", "CORES", "SUBMITTED", "ENDS",
    ]  # fmt: skip
    assert lines[4].split() == [
        "4242", "RUNNING", "-", "node07", "hpc-4242-node07", "16", "20m", "ago", "in", "1h",
    ]  # fmt: skip
    assert lines[5].split() == ["4243", "PENDING", "Priority", "-", "-", "16", "30s", "ago", "-"]
    stale = pool.model_copy(update={"stale": True, "pilots": [], "problem": None})
    lines = text(pools_view([stale], NOW)).splitlines()
    assert "no report for a while: is the manager running?" in lines[1]
    assert lines[2] == "no pilot"


@pytest.mark.parametrize(
    ("effective", "shown"),
    [(None, "50"), (50, "50"), (57, "50 (57 with aging)")],
)
def test_show_gives_the_priority_a_waiting_job_has_aged_to(
    effective: int | None, shown: str
) -> None:
    job = make_job(1, priority=50, effective_priority=effective)
    [line] = [row for row in rows(job_view(job, NOW)) if row[0] == "priority"]
    assert " ".join(line[1:]) == shown
    [_, listed] = rows(jobs_table([job], NOW))
    assert listed[3:5] == (["50", "(57)"] if effective == 57 else ["50", "queued"])

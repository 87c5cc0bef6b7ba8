"""`winjobs show` says which years of a shared-mode job (collect: link) live where."""

from __future__ import annotations

import json

from rich.console import Console, RenderableType

from tests.unit.cli.fake_driver import T0, make_job, make_task
from winjobs.cli.render import job_view, to_json
from winjobs.wire import JobStatus, TaskStatus


def text(renderable: RenderableType) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_linked_years_are_listed_by_worker_share() -> None:
    tasks = [
        make_task(
            1,
            7,
            [0, 1],
            status=TaskStatus.SUCCEEDED,
            worker="pc1",
            output_location=r"C:\links\PC1_D\out\job7-task1-a1\study\output\run",
        ),
        make_task(
            2,
            7,
            [2, 3],
            status=TaskStatus.SUCCEEDED,
            worker="pc2",
            output_location=r"C:\links\PC2_D\out\job7-task2-a1\study\output\run",
        ),
    ]
    job = make_job(7, years=[0, 1, 2, 3], status=JobStatus.SUCCEEDED, tasks=tasks)
    shown = text(job_view(job, T0))
    assert "readable while those machines are on" in shown
    lines = [line.split() for line in shown.splitlines()]
    assert ["1-2", "pc1", r"C:\links\PC1_D\out\job7-task1-a1\study\output\run"] in lines
    assert ["3-4", "pc2", r"C:\links\PC2_D\out\job7-task2-a1\study\output\run"] in lines
    parsed = json.loads(to_json(job))
    assert [t["output_location"] for t in parsed["tasks"]] == [t.output_location for t in tasks]


def test_nothing_is_said_when_every_output_is_on_the_driver() -> None:
    tasks = [make_task(1, 7, [0, 1], status=TaskStatus.SUCCEEDED, worker="pc1")]
    job = make_job(7, years=[0, 1], status=JobStatus.SUCCEEDED, tasks=tasks)
    assert "workers' shares" not in text(job_view(job, T0))

"""Following a job: live bar on a terminal, patience with a driver that blips, Ctrl-C."""

from __future__ import annotations

import io

import httpx
import pytest
from rich.console import Console

from tests.unit.cli.fake_driver import BASE_URL, FakeDriver, make_job
from winjobs.cli.follow import JobFollower, StoppedFollowing
from winjobs.client import ClientError, DriverClient
from winjobs.wire import JobStatus


def client_for(fake: FakeDriver) -> DriverClient:
    return DriverClient(
        httpx.Client(
            base_url=BASE_URL,
            transport=fake.transport(),
            headers={"Authorization": "Bearer alice-token"},
        )
    )


def test_live_bar_on_a_terminal_ends_with_the_final_state() -> None:
    fake = FakeDriver()
    fake.add(make_job(1))
    fake.script(
        1,
        [
            {"status": JobStatus.RUNNING, "years_done": 3, "tasks_running": 2},
            {"status": JobStatus.SUCCEEDED, "years_done": 10},
        ],
    )
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    job = JobFollower(client_for(fake), console, poll_interval=0).follow(1)
    assert job.status == JobStatus.SUCCEEDED
    final = [line for line in out.getvalue().splitlines() if "job 1" in line][-1]
    assert "job 1 succeeded" in final and "10/10" in final and "0 running" in final


def test_a_driver_blip_is_waited_out() -> None:
    fake = FakeDriver()
    fake.add(make_job(1, status=JobStatus.SUCCEEDED, years_done=10))
    calls = {"n": 0}
    real = fake.handle

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise httpx.ConnectError("connection refused", request=request)
        return real(request)

    client = DriverClient(
        httpx.Client(
            base_url=BASE_URL,
            transport=httpx.MockTransport(flaky),
            headers={"Authorization": "Bearer alice-token"},
        )
    )
    out = io.StringIO()
    job = JobFollower(client, Console(file=out), poll_interval=0).follow(1)
    assert job.status == JobStatus.SUCCEEDED
    assert out.getvalue().count("driver trouble, retrying") == 1


def test_patience_runs_out_on_a_driver_that_stays_down() -> None:
    fake = FakeDriver(unreachable=True)
    follower = JobFollower(
        client_for(fake), Console(file=io.StringIO()), poll_interval=0, patience=0.05
    )
    with pytest.raises(ClientError, match="cannot reach the driver"):
        follower.follow(1)
    assert len(fake.requests) >= 2


def test_a_missing_job_is_not_retried() -> None:
    fake = FakeDriver()
    with pytest.raises(ClientError, match="job 1 not found"):
        JobFollower(client_for(fake), Console(file=io.StringIO()), poll_interval=0).follow(1)
    assert len(fake.requests) == 1


def test_ctrl_c_stops_following_not_the_job() -> None:
    fake = FakeDriver()
    fake.add(make_job(7, status=JobStatus.RUNNING))

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    follower = JobFollower(client_for(fake), Console(file=io.StringIO()), sleep=interrupted)
    with pytest.raises(StoppedFollowing) as caught:
        follower.follow(7)
    assert str(caught.value) == (
        "stopped following job 7; it keeps running on the driver "
        "(follow it again with: winjobs wait 7)"
    )
    assert caught.value.exit_code == 130
    assert fake.jobs[7].status == JobStatus.RUNNING

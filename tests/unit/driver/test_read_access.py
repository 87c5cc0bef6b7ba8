"""Who reads a job's data: its submitter, admins, and the users the `readers` setting
names. The rule holds the same way for every read (detail, result, event log, task
logs, the dashboard's job page); the queue (listing) shows every job, without the failure
reason and warnings of the jobs one may not read."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.unit.driver.helpers import (
    Api,
    FakeClock,
    claim,
    driver_settings,
    make_study,
    standin_run,
)
from winjobs.antares.archive import pack_study
from winjobs.driver.app import create_app
from winjobs.errors import ConfigError
from winjobs.wire import JobStatus, JobSubmitFields, TaskFailure

P = "/api/v1"


@dataclass(frozen=True)
class Jobs:
    api: Api
    done: int  #: alice's job that succeeded
    done_task: int
    failed: int  #: alice's job that failed (it has an error to hide)


def _finished_jobs(api: Api, tmp_path: Path) -> Jobs:
    alice = api.client("alice-secret")
    study = make_study(tmp_path / "study", nbyears=2)
    archive = pack_study(study, tmp_path / "study.zip").path
    done = alice.submit_job(archive, JobSubmitFields()).job_id
    worker = api.worker()
    task = claim(worker)
    worker.complete_task_upload(
        task.task_id, task.attempt, standin_run(study, task.years, tmp_path, "r")
    )
    failed = alice.submit_job(archive, JobSubmitFields(name="doomed")).job_id
    for _ in range(api.driver.settings.max_attempts):
        attempt = claim(worker)
        worker.fail_task(
            attempt.task_id, TaskFailure(attempt=attempt.attempt, reason="secret boom")
        )
    deadline = time.monotonic() + 60
    while alice.get_job(done).status is not JobStatus.SUCCEEDED:
        assert time.monotonic() < deadline, alice.get_job(done).error
        api.driver.collector.idle.wait(timeout=1)
    assert alice.get_job(failed).status is JobStatus.FAILED
    return Jobs(api, done, task.task_id, failed)


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jobs]:
    """One driver for the module: the tests only read (a finished job takes seconds)."""
    tmp_path = tmp_path_factory.mktemp("read-access")
    clock = FakeClock()
    settings = driver_settings(tmp_path / "driver", readers=["carol"], tokens=_TOKENS)
    app = create_app(settings, clock=clock)
    with TestClient(app) as http:
        yield _finished_jobs(Api(app=app, http=http, clock=clock), tmp_path)


_TOKENS = [
    {"name": "alice", "role": "user", "token": "alice-secret"},
    {"name": "bob", "role": "user", "token": "bob-secret"},
    {"name": "carol", "role": "user", "token": "carol-secret"},
    {"name": "ops", "role": "admin", "token": "ops-secret"},
    {"name": "pool", "role": "worker", "token": "worker-secret"},
]

READS: dict[str, Callable[[Jobs], str]] = {
    "detail": lambda j: f"{P}/jobs/{j.done}",
    "result": lambda j: f"{P}/jobs/{j.done}/result",
    "event log": lambda j: f"{P}/jobs/{j.done}/log",
    "task log": lambda j: f"{P}/jobs/{j.done}/tasks/{j.done_task}/log",
}


def _get(jobs: Jobs, who: str, path: str) -> Response:
    return jobs.api.raw(f"{who}-secret").get(path)


@pytest.mark.parametrize("read", READS, ids=list(READS))
def test_another_user_cannot_read_a_job_s_data(jobs: Jobs, read: str) -> None:
    refused = _get(jobs, "bob", READS[read](jobs))
    assert refused.status_code == 403, refused.text
    assert f"job {jobs.done} belongs to alice" in refused.json()["detail"]


@pytest.mark.parametrize("read", READS, ids=list(READS))
@pytest.mark.parametrize("who", ["alice", "ops", "carol"])
def test_the_submitter_admins_and_readers_read_it(jobs: Jobs, read: str, who: str) -> None:
    response = _get(jobs, who, READS[read](jobs))
    assert response.status_code == 200, response.text


def test_a_missing_job_is_still_404_for_anyone(jobs: Jobs) -> None:
    assert _get(jobs, "bob", f"{P}/jobs/999/log").status_code == 404


def test_the_queue_shows_every_job_but_not_the_data_of_others(jobs: Jobs) -> None:
    def failed_line(who: str) -> dict[str, object]:
        listing = _get(jobs, who, f"{P}/jobs").json()["jobs"]
        assert {j["id"] for j in listing} == {jobs.done, jobs.failed}
        line: dict[str, object] = next(j for j in listing if j["id"] == jobs.failed)
        return line

    assert "secret boom" in str(failed_line("alice")["error"])
    assert "secret boom" in str(failed_line("carol")["error"])
    bob_sees = failed_line("bob")
    assert (bob_sees["status"], bob_sees["submitter"], bob_sees["error"]) == (
        "failed",
        "alice",
        None,
    )


def _dashboard(jobs: Jobs, who: str) -> TestClient:
    browser = TestClient(jobs.api.app, follow_redirects=False)
    response = browser.post("/signin", data={"token": f"{who}-secret", "next": "/"})
    assert response.status_code == 303
    return browser


@pytest.mark.parametrize("page", ["/jobs/{id}", "/fragment/jobs/{id}"])
def test_the_dashboard_applies_the_same_rule(jobs: Jobs, page: str) -> None:
    path = page.format(id=jobs.done)
    refused = _dashboard(jobs, "bob").get(path)
    assert refused.status_code == 403 and "belongs to alice" in refused.text
    assert _dashboard(jobs, "carol").get(path).status_code == 200
    failed = page.format(id=jobs.failed)
    assert 'id="actions-title"' in _dashboard(jobs, "alice").get(failed).text  # retry
    assert 'id="actions-title"' not in _dashboard(jobs, "carol").get(failed).text  # reads only
    queue = _dashboard(jobs, "bob").get("/").text
    assert f'href="/jobs/{jobs.done}"' not in queue and f"#{jobs.done}" in queue
    assert f'href="/jobs/{jobs.done}"' in _dashboard(jobs, "alice").get("/").text


def test_readers_must_be_user_tokens(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="readers: 'dave' is not the name of a user token"):
        driver_settings(tmp_path, readers=["dave"])

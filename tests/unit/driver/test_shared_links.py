"""Shared mode: a worker's run cannot lead the driver out of the worker's share through a
symbolic link or junction (the driver would copy or merge one of its own files, another
job's output or a secret, into a job's result)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.unit.driver.helpers import Api, FakeClock, claim, driver_settings
from tests.unit.driver.test_shared_mode import (
    copy_api,
    link_api,
    run_on_share,
    shared_api,
    shared_worker,
    study,
    submit,
    wait_assembled,
)
from winjobs.client import ClientError, DriverClient
from winjobs.driver.app import create_app
from winjobs.wire import ClaimRequest, JobStatus, SharedCompletion, TaskAssignment

__all__ = ["copy_api", "link_api", "study"]

SECRET = "another user's data"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file of the driver's machine, out of every worker's share."""
    path = tmp_path / "driver-secret.txt"
    path.write_text(SECRET, encoding="utf-8")
    return path


def _run_on_its_share(
    api: Api, study: Path, tmp_path: Path
) -> tuple[DriverClient, TaskAssignment, Path]:
    """A shared worker pc1 with its share, one job, and its first task's run on the share."""
    share = tmp_path / "share-pc1"
    share.mkdir()
    worker = shared_worker(api, share)
    submit(api, study, tmp_path)
    task = claim(worker, cores=2)
    return worker, task, run_on_share(task, share)


def _report(worker: DriverClient, task: TaskAssignment, run_path: Path) -> None:
    worker.complete_task_shared(
        task.task_id, SharedCompletion(attempt=task.attempt, run_path=str(run_path), log_tail="")
    )


@pytest.mark.parametrize("mode", ["copy", "link"])
def test_a_run_path_that_links_out_of_the_share_is_refused(
    mode: str, request: pytest.FixtureRequest, study: Path, tmp_path: Path
) -> None:
    api: Api = request.getfixturevalue(f"{mode}_api")
    share, outside = tmp_path / "share-pc1", tmp_path / "not-the-share"
    share.mkdir()
    outside.mkdir()
    worker = shared_worker(api, share)
    submit(api, study, tmp_path)
    task = claim(worker, cores=2)
    run = run_on_share(task, outside)
    (share / "escape").symlink_to(run, target_is_directory=True)
    with pytest.raises(ClientError, match="leads out of worker pc1's shared output") as refused:
        _report(worker, task, share / "escape")
    assert refused.value.status_code == 422
    (share / "elsewhere").symlink_to(outside, target_is_directory=True)  # a folder above it
    with pytest.raises(ClientError, match="leads out of worker pc1's shared output"):
        _report(worker, task, share / "elsewhere" / run.relative_to(outside))
    held = api.client("alice-secret").get_job(task.job_id).tasks
    assert [t.status for t in held if t.id == task.task_id] == ["running"]  # not taken


@pytest.mark.parametrize("mode", ["copy", "link"])
def test_a_link_inside_a_run_is_refused(
    mode: str, request: pytest.FixtureRequest, study: Path, tmp_path: Path, secret: Path
) -> None:
    api: Api = request.getfixturevalue(f"{mode}_api")
    worker, task, run = _run_on_its_share(api, study, tmp_path)
    (run / "about-the-study" / "notes.txt").symlink_to(secret)
    with pytest.raises(
        ClientError, match=r"holds a symbolic link or junction \(about-the-study/notes.txt\)"
    ) as refused:
        _report(worker, task, run)
    assert refused.value.status_code == 422
    (run / "about-the-study" / "notes.txt").unlink()
    _report(worker, task, run)  # the same run without the link is taken


def test_a_copy_never_follows_a_link_swapped_in_after_the_check(
    copy_api: Api, study: Path, tmp_path: Path, secret: Path
) -> None:
    """The share is the worker's: a link can appear between the check of the share and
    the copy. The copy keeps links as links, and a copy holding one is refused."""
    share = tmp_path / "share-pc1"
    share.mkdir()
    run = share / "run"
    run.mkdir()
    (run / "simulation.log").symlink_to(secret)
    with pytest.raises(Exception, match=r"holds a symbolic link or junction \(simulation.log\)"):
        copy_api.driver.collector.check_shared(7, run, copy=True)
    assert list(copy_api.driver.files.tmp.iterdir()) == []  # the copy is gone


def test_a_link_added_to_a_linked_run_after_its_report_fails_the_assembly(
    link_api: Api, study: Path, tmp_path: Path, secret: Path
) -> None:
    """collect: link merges the runs where they are, on the shares, at the assembly:
    a link put into one after it was reported fails the job, and the driver's file is in
    no output."""
    share = tmp_path / "share-pc1"
    share.mkdir()
    worker = shared_worker(link_api, share)
    job_id = submit(link_api, study, tmp_path)
    runs = []
    while (task := worker.claim(ClaimRequest(free_cores=2, wait_s=0))) is not None:
        run = run_on_share(task, share)
        _report(worker, task, run)
        runs.append(run)
        if len(runs) == 1:
            (run / "about-the-study" / "notes.txt").symlink_to(secret)  # after the report
    wait_assembled(link_api)
    job = link_api.client("alice-secret").get_job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error is not None and "holds a symbolic link or junction" in job.error
    assert "about-the-study/notes.txt" in job.error and "remove it, then retry" in job.error
    outputs = link_api.driver.files.job_study(job_id) / "output"
    written = [p for p in outputs.rglob("*") if p.is_file() and not p.is_symlink()]
    assert not any(SECRET in p.read_text(errors="replace") for p in written)
    assert link_api.raw("alice-secret").get(f"/api/v1/jobs/{job_id}/result").status_code == 409


def test_a_run_in_the_driver_s_own_data_folder_is_refused(
    copy_api: Api, study: Path, tmp_path: Path
) -> None:
    """A worker that registers the driver's data folder as its share could report a run
    the driver keeps for another job (copy mode) as its own output."""
    data = copy_api.driver.files.root
    worker = shared_worker(copy_api, data)
    submit(copy_api, study, tmp_path)
    task = claim(worker, cores=2)
    run = run_on_share(task, data / "looks-like-a-share")
    with pytest.raises(ClientError, match="lies in the driver's own data folder") as refused:
        _report(worker, task, run)
    assert refused.value.status_code == 422


def test_a_stale_attempt_is_refused_before_its_run_is_copied(
    copy_api: Api, study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attempt is checked first: a worker whose task went to another attempt gets its
    409 without the driver copying a whole run from its share for nothing."""
    worker, task, run = _run_on_its_share(copy_api, study, tmp_path)
    copies: list[Path] = []
    check_shared = copy_api.driver.collector.check_shared
    monkeypatch.setattr(
        copy_api.driver.collector,
        "check_shared",
        lambda task_id, path, copy: copies.append(path) or check_shared(task_id, path, copy),
    )
    stale = SharedCompletion(attempt=task.attempt + 1, run_path=str(run), log_tail="")
    with pytest.raises(ClientError, match="is stale") as refused:
        worker.complete_task_shared(task.task_id, stale)
    assert refused.value.status_code == 409
    nowhere = SharedCompletion(
        attempt=task.attempt + 1, run_path=str(run.parent / "nope"), log_tail=""
    )
    with pytest.raises(ClientError, match="is stale"):
        worker.complete_task_shared(task.task_id, nowhere)
    assert copies == []
    _report(worker, task, run)  # its own attempt is taken, copied once
    assert copies == [run]


def test_worker_share_roots_bound_what_a_worker_may_register(
    study: Path, tmp_path: Path, clock: FakeClock
) -> None:
    """With `worker_share_roots`, a worker's shared output folder must lie inside one of
    them, at its registration and at each report (a worker registered before the list
    was set is held to it too)."""
    shares = tmp_path / "links"
    (shares / "PC1_D").mkdir(parents=True)
    elsewhere = tmp_path / "home" / "bob"
    elsewhere.mkdir(parents=True)
    for open_api in shared_api(tmp_path, clock, "copy"):  # the driver without the list
        early = shared_worker(open_api, elsewhere, name="pc-early")  # taken
        submit(open_api, study, tmp_path)
        task = claim(early, cores=2)
        run = run_on_share(task, elsewhere)

    bounded = driver_settings(
        tmp_path / "driver",
        transfer="shared",
        shared_root=tmp_path / "driver-share",
        collect="copy",
        worker_share_roots=[str(shares)],
    )
    app = create_app(bounded, clock=clock)
    with TestClient(app) as http:
        api = Api(app=app, http=http, clock=clock)
        with pytest.raises(ClientError, match="is not inside the folders this driver") as no:
            shared_worker(api, elsewhere, name="pc-late")
        assert no.value.status_code == 422
        assert "worker_share_roots" in str(no.value)
        shared_worker(api, shares / "PC1_D", name="pc1")  # inside: taken
        again = api.client("worker-secret")  # pc-early's id, registered before the list
        again.worker_id = early.worker_id
        with pytest.raises(ClientError, match="is not inside the folders this driver"):
            _report(again, task, run)

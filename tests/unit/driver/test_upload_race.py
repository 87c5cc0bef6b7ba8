"""Repeated uploads of one attempt's output (a worker retrying after a dropped connection):
each lands in its own temporary place, exactly one is accepted, and the accepted folder is
never touched by a request that lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.unit.driver.helpers import Api, claim, make_study, standin_run
from winjobs.antares.archive import pack_study
from winjobs.client import ClientError, DriverClient
from winjobs.wire import JobStatus, JobSubmitFields, TaskAssignment


def _submit_and_claim(api: Api, tmp_path: Path) -> tuple[Path, int, DriverClient, TaskAssignment]:
    study = make_study(tmp_path / "study", nbyears=2)
    archive = pack_study(study, tmp_path / "study.zip").path
    job_id = api.client("alice-secret").submit_job(archive, JobSubmitFields()).job_id
    worker = api.worker()
    return study, job_id, worker, claim(worker)


def _same_worker(api: Api, worker: DriverClient) -> DriverClient:
    """A second connection of the same worker (what a retry after a dropped one uses)."""
    again = api.client("worker-secret")
    again.worker_id = worker.worker_id
    return again


def _hold_after_verification(
    api: Api, parties: int, monkeypatch: pytest.MonkeyPatch
) -> threading.Barrier:
    """Every upload waits, once verified (in a thread: none is checked in the event
    loop), until all of them are: they then race to be recorded (the window a retried
    upload falls into)."""
    barrier = threading.Barrier(parties, timeout=60)
    monkeypatch.setattr("winjobs.driver.dispatch._CHECKED_IN_PLACE", 0)
    collector = api.driver.collector
    verified: Callable[..., Any] = collector.check_output

    def check_then_wait(*args: Any, **kwargs: Any) -> Any:
        checked = verified(*args, **kwargs)
        barrier.wait()
        return checked

    monkeypatch.setattr(collector, "check_output", check_then_wait)
    return barrier


def _upload_concurrently(
    uploads: list[tuple[DriverClient, Path]], task: TaskAssignment
) -> list[object]:
    outcomes: list[object] = [None] * len(uploads)

    def upload(index: int) -> None:
        client, run_zip = uploads[index]
        try:
            outcomes[index] = client.complete_task_upload(task.task_id, task.attempt, run_zip)
        except ClientError as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(len(uploads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "an upload never ended"
    return outcomes


def _wait_finished(api: Api, job_id: int) -> JobStatus:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = api.client("alice-secret").get_job(job_id).status
        if status.is_final:
            return status
        api.driver.collector.idle.wait(timeout=1)
    raise AssertionError(f"job {job_id} did not finish")


def test_a_repeated_upload_never_deletes_the_accepted_output(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study, job_id, worker, task = _submit_and_claim(api, tmp_path)
    first = standin_run(study, task.years, tmp_path, "first")
    second = standin_run(study, task.years, tmp_path, "second")  # another run: other bytes
    _hold_after_verification(api, 2, monkeypatch)
    outcomes = _upload_concurrently([(worker, first), (_same_worker(api, worker), second)], task)
    refused = [o for o in outcomes if isinstance(o, ClientError)]
    assert len(refused) == 1, outcomes
    assert refused[0].status_code == 409, refused[0]
    assert _wait_finished(api, job_id) is JobStatus.SUCCEEDED, (
        api.client("alice-secret").get_job(job_id).error
    )
    assert list(api.driver.files.tmp.iterdir()) == []


def test_a_byte_identical_upload_of_an_accepted_output_is_acknowledged(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study, job_id, worker, task = _submit_and_claim(api, tmp_path)
    run_zip = standin_run(study, task.years, tmp_path, "run")
    _hold_after_verification(api, 2, monkeypatch)
    outcomes = _upload_concurrently([(worker, run_zip), (_same_worker(api, worker), run_zip)], task)
    assert not any(isinstance(o, ClientError) for o in outcomes), outcomes
    assert _wait_finished(api, job_id) is JobStatus.SUCCEEDED
    # once the job is assembled the task outputs are gone: a late copy is only stale
    monkeypatch.undo()  # (checked as usual: no other upload to wait for)
    with pytest.raises(ClientError) as late:
        worker.complete_task_upload(task.task_id, task.attempt, run_zip)
    assert late.value.status_code == 409


def test_a_retry_after_the_answer_was_lost_is_acknowledged(api: Api, tmp_path: Path) -> None:
    """The first upload was accepted, its answer lost; the worker sends the same zip again."""
    study = make_study(tmp_path / "study", nbyears=8)
    archive = pack_study(study, tmp_path / "study.zip").path
    job_id = api.client("alice-secret").submit_job(archive, JobSubmitFields()).job_id
    worker = api.worker()
    task = claim(worker, cores=4)
    run_zip = standin_run(study, task.years, tmp_path, "run")
    worker.complete_task_upload(task.task_id, task.attempt, run_zip)
    again = worker.complete_task_upload(task.task_id, task.attempt, run_zip)
    assert again.ok
    other = standin_run(study, task.years, tmp_path, "other")
    with pytest.raises(ClientError) as refused:
        worker.complete_task_upload(task.task_id, task.attempt, other)
    assert refused.value.status_code == 409
    detail = api.client("alice-secret").get_job(job_id)
    assert detail.tasks[0].status == "succeeded"
    kept = api.driver.files.task_output_zip(job_id, task.task_id, task.attempt)
    assert kept.read_bytes() == run_zip.read_bytes()  # the first upload, kept as it came

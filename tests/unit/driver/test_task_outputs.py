"""Uploaded task outputs: checked without being unpacked, kept zipped, exactly one
accepted per attempt however many times (and however concurrently) it is sent."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import pytest

from tests.unit.driver.helpers import Api, claim, make_study, standin_run
from winjobs.antares.archive import pack_study
from winjobs.wire import WORKER_ID_HEADER, JobStatus, JobSubmitFields, TaskAssignment

NBYEARS = 2


@pytest.fixture
def study(tmp_path: Path) -> Path:
    return make_study(tmp_path / "study", nbyears=NBYEARS)


def _submit(api: Api, study: Path, tmp_path: Path) -> int:
    archive = pack_study(study, tmp_path / "study.zip").path
    return api.client("alice-secret").submit_job(archive, JobSubmitFields()).job_id


def _post_output(api: Api, worker_id: int, task: TaskAssignment, content: bytes) -> tuple[int, str]:
    http = api.raw("worker-secret")
    answer = http.post(
        f"/api/v1/tasks/{task.task_id}/complete",
        headers={WORKER_ID_HEADER: str(worker_id)},
        data={"attempt": str(task.attempt), "log_tail": "ok"},
        files={"output": ("run.zip", content, "application/zip")},
    )
    return answer.status_code, answer.text


def _one_task(api: Api, study: Path, tmp_path: Path) -> tuple[int, TaskAssignment, bytes]:
    _submit(api, study, tmp_path)
    worker = api.worker(cores=NBYEARS)
    task = claim(worker, cores=NBYEARS)
    assert worker.worker_id is not None
    upload = standin_run(study, task.years, tmp_path / "runs", "t")
    return worker.worker_id, task, upload.read_bytes()


@pytest.mark.parametrize("path", ["checked in place", "checked in a thread", "through a file"])
def test_an_upload_is_kept_zipped_and_assembled(
    api: Api, study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """Small outputs are checked where they arrived and written once; larger ones held
    in memory are checked in a thread; the largest streamed to tmp/ and kept from there."""
    if path != "checked in place":
        monkeypatch.setattr("winjobs.driver.dispatch._CHECKED_IN_PLACE", 0)
    if path == "through a file":
        monkeypatch.setattr("winjobs.driver.api.tasks._IN_MEMORY_OUTPUT", 0)
    worker_id, task, content = _one_task(api, study, tmp_path)
    api.driver.collector.stop()  # look at the kept output before the assembly takes it
    assert _post_output(api, worker_id, task, content)[0] == 200
    kept = api.driver.files.task_output_zip(task.job_id, task.task_id, task.attempt)
    assert kept.read_bytes() == content
    assert list((api.driver.files.tmp).iterdir()) == []
    api.driver.collector.start()  # the completion queued the assembly
    assert api.driver.collector.idle.wait(timeout=120)
    job = api.client("alice-secret").get_job(task.job_id)
    assert job.status == JobStatus.SUCCEEDED, job.error


def test_a_repeated_upload_is_answered_200_only_if_identical(
    api: Api, study: Path, tmp_path: Path
) -> None:
    """A worker that lost the answer sends its output again: the same bytes are
    acknowledged (idempotent), other bytes refused; the accepted output is untouched."""
    worker_id, task, content = _one_task(api, study, tmp_path)
    api.driver.collector.stop()
    assert _post_output(api, worker_id, task, content)[0] == 200
    status, text = _post_output(api, worker_id, task, content)
    assert (status, "already accepted" in text) == (200, True)
    other = standin_run(make_study(tmp_path / "other", nbyears=NBYEARS), task.years, tmp_path, "o")
    assert _post_output(api, worker_id, task, other.read_bytes())[0] == 409
    kept = api.driver.files.task_output_zip(task.job_id, task.task_id, task.attempt)
    assert kept.read_bytes() == content


def test_concurrent_uploads_of_one_attempt_accept_one_and_keep_it(
    api: Api, study: Path, tmp_path: Path
) -> None:
    """Several uploads of the same attempt at once (identical, and one different): one
    is accepted, the identical ones get 200, the different one 409 or the acceptance,
    and the job's output is assembled from an intact kept zip."""
    worker_id, task, content = _one_task(api, study, tmp_path)
    other = standin_run(make_study(tmp_path / "other", nbyears=NBYEARS), task.years, tmp_path, "o")
    bodies = [content] * 5 + [other.read_bytes()]
    start = threading.Barrier(len(bodies))
    answers: list[tuple[int, str, bytes]] = []

    def send(body: bytes) -> None:
        start.wait()
        status, text = _post_output(api, worker_id, task, body)
        answers.append((status, text, body))

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    accepted = [body for status, text, body in answers if status == 200 and "already" not in text]
    assert len(answers) == len(bodies) and len(accepted) == 1, answers
    for status, text, body in answers:
        assert status in (200, 409), text
        assert (status == 200) == (body == accepted[0]), (status, text)
    assert api.driver.collector.idle.wait(timeout=120)
    job = api.client("alice-secret").get_job(task.job_id)
    assert job.status == JobStatus.SUCCEEDED, job.error


@pytest.mark.parametrize("path", ["held in memory", "through a file"])
def test_a_damaged_upload_is_refused_and_nothing_is_kept(
    api: Api, study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """Through a file, the zip's entries are checked as they arrive (`zipstream`): the
    damaged one is not among those, and the check after the upload finds it."""
    if path == "through a file":
        monkeypatch.setattr("winjobs.driver.api.tasks._IN_MEMORY_OUTPUT", 0)
    worker_id, task, content = _one_task(api, study, tmp_path)
    with zipfile.ZipFile(tmp_path / "runs" / "t.zip") as archive:
        info = max(archive.infolist(), key=lambda i: i.compress_size)
    at = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 10
    damaged = content[:at] + bytes([content[at] ^ 0xFF]) + content[at + 1 :]
    status, text = _post_output(api, worker_id, task, damaged)
    assert status == 422 and "damaged" in text, text
    assert not api.driver.files.task_output_zip(task.job_id, task.task_id, task.attempt).exists()
    assert list((api.driver.files.tmp).iterdir()) == []
    assert _post_output(api, worker_id, task, content)[0] == 200  # the attempt still holds it

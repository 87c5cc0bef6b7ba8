"""The worker protocol through the test client: register, claim (long-poll), heartbeat,
fail, fencing, lease expiry, study download, the workers list and /metrics."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.waiting import GENEROUS_S, wait_until
from tests.unit.driver.helpers import Api, claim, packed_study
from winjobs.client import ClientError, DriverClient
from winjobs.wire import (
    ClaimRequest,
    Heartbeat,
    JobStatus,
    JobSubmitFields,
    TaskFailure,
    WorkerRegistration,
    WorkerState,
)

P = "/api/v1"
#: a long-poll's wait (the driver's default `claim_max_wait_s`): a claim that ended
#: sooner was woken, one that timed out took at least this long (the tests never sleep)
LONG_POLL_S = 30


def submit(api: Api, tmp_path: Path, **options: object) -> int:
    archive = packed_study(tmp_path, name=f"s{time.monotonic_ns()}", **options)  # type: ignore[arg-type]
    return api.client("alice-secret").submit_job(archive, JobSubmitFields()).job_id


def test_register_answers_the_protocol_timings(api: Api) -> None:
    client = api.client("worker-secret")
    reply = client.register_worker(
        WorkerRegistration(name="pc-01", cores=8, os="Windows-10", versions=["8.8", "9.2"])
    )
    assert (reply.lease_seconds, reply.heartbeat_interval_s) == (60.0, 15.0)
    again = api.client("worker-secret").register_worker(
        WorkerRegistration(name="pc-01", cores=4, os="Windows-10", versions=["8.8"])
    )
    assert again.worker_id == reply.worker_id


def test_register_refuses_bad_versions(api: Api) -> None:
    response = api.raw("worker-secret").post(
        f"{P}/workers/register",
        json={"name": "x", "cores": 2, "os": "Linux", "versions": ["eight"]},
    )
    assert response.status_code == 422 and "not an Antares version" in response.json()["detail"]
    response = api.raw("worker-secret").post(
        f"{P}/workers/register", json={"name": "x", "cores": 0, "os": "Linux", "versions": []}
    )
    assert response.status_code == 422


def test_claim_returns_204_when_there_is_no_work(api: Api) -> None:
    worker = api.worker()
    started = time.monotonic()
    assert worker.claim(ClaimRequest(free_cores=4, wait_s=0.3)) is None
    assert 0.25 <= time.monotonic() - started < 5


def _waiting(api: Api, count: int, worker: DriverClient | None = None) -> None:
    """Until `count` claims (of `worker`, or of anyone) wait in the driver for work."""
    worker_id = worker.worker_id if worker is not None else None
    wait_until(
        lambda: api.driver.signal.waiting(worker_id) == count,
        GENEROUS_S,
        f"{count} claim(s) waiting in the driver",
    )


def _ended(thread: threading.Thread) -> None:
    thread.join(timeout=GENEROUS_S)
    assert not thread.is_alive(), "the claim never ended"


def test_a_waiting_claim_returns_as_soon_as_work_appears(api: Api, tmp_path: Path) -> None:
    worker = api.worker()
    poll, got = _long_poll(worker)
    _waiting(api, 1)
    assert poll.is_alive()  # still waiting: no work yet
    job_id = submit(api, tmp_path)
    _ended(poll)
    answer, waited = got[0]
    assert answer is not None and answer.job_id == job_id
    assert waited < LONG_POLL_S  # woken by the submission, not by the end of its wait


def test_a_requeued_task_wakes_waiting_claims(api: Api, tmp_path: Path) -> None:
    submit(api, tmp_path, nbyears=2)
    first, second = api.worker("w1"), api.worker("w2")
    task = claim(first)
    got: list[object] = []
    thread = threading.Thread(
        target=lambda: got.append(second.claim(ClaimRequest(free_cores=4, wait_s=LONG_POLL_S)))
    )
    thread.start()
    _waiting(api, 1)
    first.fail_task(
        task.task_id, TaskFailure(attempt=task.attempt, reason="disk full", release=True)
    )
    _ended(thread)
    assert got and got[0] is not None and got[0].task_id == task.task_id  # type: ignore[attr-defined]


def test_draining_worker_gets_nothing(api: Api, tmp_path: Path) -> None:
    submit(api, tmp_path)
    worker = api.worker()
    assert worker.claim(ClaimRequest(free_cores=4, wait_s=5, draining=True)) is None
    states = {w.name: w.state for w in api.client("alice-secret").list_workers().workers}
    assert states == {"w1": WorkerState.DRAINING}
    assert worker.claim(ClaimRequest(free_cores=4, wait_s=0)) is not None


def _long_poll(
    worker: DriverClient, wait_s: float = LONG_POLL_S
) -> tuple[threading.Thread, list[Any]]:
    """A claim waiting in a thread; the list gets (answer, seconds waited)."""
    got: list[Any] = []

    def run() -> None:
        started = time.monotonic()
        answer = worker.claim(ClaimRequest(free_cores=4, wait_s=wait_s))
        got.append((answer, time.monotonic() - started))

    thread = threading.Thread(target=run)
    thread.start()
    return thread, got


def test_a_draining_claim_ends_that_worker_s_waiting_claim(api: Api, tmp_path: Path) -> None:
    """How a worker stopping while idle ends its long-poll; other workers keep waiting."""
    stopping, other = api.worker("w1"), api.worker("w2")
    stopping_poll, stopping_got = _long_poll(stopping)
    other_poll, other_got = _long_poll(other)
    _waiting(api, 2)
    assert stopping.claim(ClaimRequest(free_cores=4, wait_s=0, draining=True)) is None
    _ended(stopping_poll)
    assert stopping_got and stopping_got[0][0] is None
    assert stopping_got[0][1] < LONG_POLL_S  # ended by the draining claim
    assert other_poll.is_alive() and api.driver.signal.waiting(other.worker_id) == 1
    job_id = submit(api, tmp_path)
    _ended(other_poll)
    assert other_got[0][0] is not None and other_got[0][0].job_id == job_id
    tasks = api.client("alice-secret").get_job(job_id).tasks
    assert {task.worker for task in tasks} == {"w2"}
    states = {w.name: w.state for w in api.client("alice-secret").list_workers().workers}
    assert states["w1"] is WorkerState.DRAINING


def test_closing_the_signal_answers_waiting_claims_at_once(api: Api) -> None:
    """What a driver shutting down does first (`app.DriverServer`): no claim waits on."""
    poll, got = _long_poll(api.worker())
    _waiting(api, 1)
    api.driver.signal.close()
    _ended(poll)
    assert got and got[0][0] is None and got[0][1] < LONG_POLL_S  # ended, not timed out
    started = time.monotonic()
    assert api.worker("w2").claim(ClaimRequest(free_cores=4, wait_s=LONG_POLL_S)) is None
    assert time.monotonic() - started < LONG_POLL_S  # a later claim does not wait at all


def test_heartbeat_progress_and_fencing(api: Api, tmp_path: Path) -> None:
    job_id = submit(api, tmp_path, nbyears=4)
    worker = api.worker()
    task = claim(worker, cores=4)
    reply = worker.heartbeat(task.task_id, Heartbeat(attempt=task.attempt, years_done=3))
    assert reply.cancel is False
    job = api.client("alice-secret").get_job(job_id)
    assert (job.years_done, job.tasks_running, job.tasks[0].years_done) == (3, 1, 3)
    api.clock.advance(10)
    assert api.client("alice-secret").get_job(job_id).eta_seconds == pytest.approx(10 / 3)
    with pytest.raises(ClientError) as stale:
        worker.heartbeat(task.task_id, Heartbeat(attempt=task.attempt + 1))
    assert stale.value.status_code == 409 and stale.value.is_conflict
    with pytest.raises(ClientError) as missing:
        worker.heartbeat(999, Heartbeat(attempt=1))
    assert missing.value.status_code == 404


def test_an_expired_lease_requeues_and_fences_the_old_attempt(api: Api, tmp_path: Path) -> None:
    job_id = submit(api, tmp_path, nbyears=4)
    slow, fresh = api.worker("slow"), api.worker("fresh")
    old = claim(slow)
    api.clock.advance(61)
    [event] = api.driver.sweeper.sweep_once()
    assert "lease expired: worker slow" in event.reason
    new = claim(fresh)
    assert (new.task_id, new.attempt) == (old.task_id, 2)
    for report in (
        lambda: slow.heartbeat(old.task_id, Heartbeat(attempt=old.attempt)),
        lambda: slow.fail_task(old.task_id, TaskFailure(attempt=old.attempt, reason="late")),
    ):
        with pytest.raises(ClientError) as refused:
            report()
        assert refused.value.status_code == 409
    job = api.client("alice-secret").get_job(job_id)
    assert (job.tasks[0].worker, job.tasks[0].attempts, job.tasks[0].status) == (
        "fresh",
        2,
        "running",
    )
    assert "lease expired" in api.client("alice-secret").job_log(job_id)


def test_complete_refuses_a_stale_attempt_before_reading_the_upload(
    api: Api, tmp_path: Path
) -> None:
    submit(api, tmp_path, nbyears=2)
    worker = api.worker()
    task = claim(worker)
    upload = tmp_path / "run.zip"
    upload.write_bytes(b"x" * 3_000_000)
    with pytest.raises(ClientError, match="stale") as refused:
        worker.complete_task_upload(task.task_id, task.attempt + 5, upload)
    assert refused.value.status_code == 409
    assert list(api.driver.files.tmp.iterdir()) == []


def test_complete_refuses_a_damaged_upload(api: Api, tmp_path: Path) -> None:
    job_id = submit(api, tmp_path, nbyears=2)
    worker = api.worker()
    task = claim(worker)
    upload = tmp_path / "run.zip"
    upload.write_bytes(b"not a zip")
    with pytest.raises(ClientError, match="uploaded output was refused") as refused:
        worker.complete_task_upload(task.task_id, task.attempt, upload)
    assert refused.value.status_code == 422
    assert api.client("alice-secret").get_job(job_id).tasks[0].status == "running"
    assert list(api.driver.files.tmp.iterdir()) == []
    response = api.raw("worker-secret").post(
        f"{P}/tasks/{task.task_id}/complete",
        headers={"X-Winjobs-Worker": str(worker.worker_id)},
        files={"output": ("r.zip", b"PK")},
    )
    assert response.status_code == 422 and "attempt" in response.json()["detail"]


def test_study_download_resumes(api: Api, tmp_path: Path) -> None:
    submit(api, tmp_path, nbyears=3)
    worker = api.worker()
    task = claim(worker)
    archive = api.driver.files.study_archive(task.study_sha256).read_bytes()
    dest = tmp_path / "cache" / "study.zip"
    dest.parent.mkdir()
    (dest.parent / "study.zip.part").write_bytes(archive[:100])  # an interrupted download
    worker.download_study(task.study_sha256, dest)
    assert dest.read_bytes() == archive
    response = api.raw("worker-secret").get(
        f"{P}/studies/{task.study_sha256}", headers={"Range": "bytes=10-19"}
    )
    assert response.status_code == 206 and response.content == archive[10:20]
    for bad in ("0" * 64, "not-a-hash"):
        assert api.raw("worker-secret").get(f"{P}/studies/{bad}").status_code == 404


def test_workers_list_and_metrics(api: Api, tmp_path: Path) -> None:
    submit(api, tmp_path, nbyears=4)
    busy, idle = api.worker("busy", cores=2), api.worker("idle", cores=2)
    task = claim(busy, cores=2)
    assert idle.claim(ClaimRequest(free_cores=2, wait_s=0)) is not None
    idle_task = api.client("alice-secret").get_job(task.job_id).tasks[1]
    idle.fail_task(idle_task.id, TaskFailure(attempt=1, reason="x", release=True))
    api.worker("gone", cores=1)
    api.clock.advance(30)
    busy.heartbeat(task.task_id, Heartbeat(attempt=task.attempt))
    idle.claim(ClaimRequest(free_cores=2, wait_s=0, draining=True))
    api.clock.advance(70)  # "gone" was last seen 100 s ago
    workers = {w.name: w for w in api.client("alice-secret").list_workers().workers}
    assert workers["busy"].state == WorkerState.BUSY
    assert (workers["busy"].current_task, workers["busy"].current_job) == (
        task.task_id,
        task.job_id,
    )
    assert workers["idle"].state == WorkerState.DRAINING
    assert workers["gone"].state == WorkerState.OFFLINE
    text = api.raw("ops-secret").get("/metrics").text
    assert 'winjobs_jobs{status="running"} 1' in text
    assert 'winjobs_tasks{status="running"} 1' in text
    assert 'winjobs_tasks{status="queued"} 1' in text
    assert 'winjobs_workers{state="offline"} 1' in text
    assert 'winjobs_claims_total{result="task"} 2' in text
    assert 'winjobs_claims_total{result="empty"} 1' in text
    assert 'winjobs_claim_latency_seconds_bucket{le="+Inf"} 3' in text
    assert JobStatus.RUNNING == "running"


def test_openapi_documents_the_api(api: Api) -> None:
    schema = api.http.get("/openapi.json").json()
    assert f"{P}/workers/claim" in schema["paths"]
    body = schema["paths"][f"{P}/jobs"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert {"archive", "priority", "years"} <= set(body["schema"]["properties"])
    assert api.http.get("/docs").status_code == 200


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_every_ref_of_the_openapi_document_resolves(api: Api) -> None:
    """A `$ref` that points nowhere (`#/$defs/...` of an inline schema) stops ReDoc from
    rendering the whole page."""
    document = api.http.get("/openapi.json").json()
    refs = sorted(set(_refs(document)))
    assert refs
    for ref in refs:
        node = document
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, f"{ref} resolves to nothing"
            node = node[part]


def test_a_worker_running_two_tasks_is_listed_once(api: Api, tmp_path: Path) -> None:
    """It uploads one task while the next runs: one worker, busy, with both tasks, in the
    API, /metrics and the dashboard (an outer join listed it once per task)."""
    job_id = submit(api, tmp_path, nbyears=8)
    uploading = api.worker("uploading", cores=2)
    api.worker("idle", cores=2)
    first, second = claim(uploading, cores=2), claim(uploading, cores=2)
    listed = api.client("alice-secret").list_workers().workers
    assert [w.name for w in listed] == ["idle", "uploading"]  # once each, by name
    workers = {w.name: w for w in listed}
    busy = workers["uploading"]
    assert busy.state is WorkerState.BUSY and workers["idle"].state is WorkerState.IDLE
    assert {(t.task_id, t.job_id) for t in busy.tasks} == {
        (first.task_id, job_id),
        (second.task_id, job_id),
    }
    assert busy.current_task == busy.tasks[0].task_id
    text = api.raw("ops-secret").get("/metrics").text
    assert 'winjobs_workers{state="busy"} 1' in text
    assert 'winjobs_workers{state="idle"} 1' in text
    browser = api.raw(None)
    assert browser.post("/signin", data={"token": "alice-secret", "next": "/"}).status_code in (
        200,
        303,
    )
    page = browser.get("/workers").text
    assert "2 workers: 1 idle, 1 busy." in page
    assert page.count('data-key="worker-') == 2
    for task in (first, second):
        assert f"task #{task.task_id} of job #{job_id}" in page

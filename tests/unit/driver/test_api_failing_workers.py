"""Failing workers through the API: failure reports with their evidence, held workers in
the list and at registration, the admin's release."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests.unit.driver.helpers import Api, claim, packed_study
from winjobs.client import ClientError, DriverClient
from winjobs.wire import (
    ClaimRequest,
    FailureEvidence,
    FailureKind,
    JobStatus,
    JobSubmitFields,
    TaskAssignment,
    TaskFailure,
    WorkerRegistration,
    WorkerState,
)

P = "/api/v1"
CRASH = FailureEvidence(exit_status=139, signal="SIGSEGV")
HELD = "solver crashed 3 times in a row: the solver crashed (SIGSEGV, exit status 139)"


def submit(api: Api, tmp_path: Path, nbyears: int = 6) -> int:
    archive = packed_study(tmp_path, name=f"s{time.monotonic_ns()}", nbyears=nbyears)
    return api.client("alice-secret").submit_job(archive, JobSubmitFields()).job_id


def crash(worker: DriverClient, task: TaskAssignment) -> str:
    failure = TaskFailure(
        attempt=task.attempt,
        reason="the solver crashed (SIGSEGV, exit status 139)",
        kind=FailureKind.MACHINE,
        evidence=CRASH,
    )
    return worker.fail_task(task.task_id, failure).detail


def hold_broken_worker(api: Api, tmp_path: Path) -> tuple[DriverClient, DriverClient]:
    """`broken` crashes three tasks in a row while `healthy` completes one (through the
    store: the upload path has its own tests)."""
    submit(api, tmp_path, nbyears=12)
    broken, healthy = api.worker("broken", cores=2), api.worker("healthy", cores=2)
    done = claim(healthy, cores=2)
    store = api.driver.store
    healthy_id = healthy.worker_id
    assert healthy_id is not None
    store.complete_task(done.task_id, healthy_id, done.attempt, "")
    for _ in range(3):
        assert crash(broken, claim(broken, cores=2)) == "requeued"
    return broken, healthy


def test_a_crash_report_is_not_counted_and_the_task_goes_elsewhere(
    api: Api, tmp_path: Path
) -> None:
    job_id = submit(api, tmp_path, nbyears=2)
    broken, healthy = api.worker("broken", cores=2), api.worker("healthy", cores=2)
    task = claim(broken, cores=2)
    assert crash(broken, task) == "requeued"
    assert broken.claim(ClaimRequest(free_cores=2, wait_s=0)) is None
    again = claim(healthy, cores=2)
    assert (again.task_id, again.attempt) == (task.task_id, 2)
    alice = api.client("alice-secret")
    log = alice.job_log(job_id)
    assert (
        f"task {task.task_id} (years 1-2) failed on broken (not counted: the machine's fault) "
        "and is queued again; its next attempt goes to another worker" in log
    )
    assert alice.get_job(job_id).tasks[0].error == "the solver crashed (SIGSEGV, exit status 139)"


def test_the_same_fatal_error_on_two_workers_fails_the_job(api: Api, tmp_path: Path) -> None:
    job_id = submit(api, tmp_path, nbyears=2)
    w1, w2 = api.worker("w1", cores=2), api.worker("w2", cores=2)
    for worker in (w1, w2):
        task = claim(worker, cores=2)
        failure = TaskFailure(
            attempt=task.attempt,
            reason="the solver exited with status 1: Year 2: infeasible",
            kind=FailureKind.STUDY,
            # each worker's path to its task folder is written <task>
            evidence=FailureEvidence(exit_status=1, fatal_line="Year 2: infeasible in <task>"),
        )
        worker.fail_task(task.task_id, failure)
    job = api.client("alice-secret").get_job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error == (
        "years 1-2 failed with the same error on w1 and w2: "
        "the solver exited with status 1: Year 2: infeasible"
    )


def test_held_workers_are_listed_with_their_reason_and_get_no_task(
    api: Api, tmp_path: Path
) -> None:
    broken, _ = hold_broken_worker(api, tmp_path)
    listed = {w.name: w for w in api.client("alice-secret").list_workers().workers}
    assert listed["broken"].state is WorkerState.HELD
    assert (listed["broken"].held_reason, listed["broken"].held_by) == (HELD, "driver")
    assert listed["broken"].held_at is not None and listed["broken"].failures_in_a_row == 3
    assert listed["healthy"].held_reason is None and listed["healthy"].failures_in_a_row == 0
    assert broken.claim(ClaimRequest(free_cores=2, wait_s=0)) is None
    # registering again with the same configuration does not lift the hold
    again = api.client("worker-secret").register_worker(
        WorkerRegistration(name="broken", cores=2, os="Linux-test", versions=["8.8"])
    )
    assert again.held_reason == HELD


def test_an_admin_releases_a_held_worker(api: Api, tmp_path: Path) -> None:
    broken, _ = hold_broken_worker(api, tmp_path)
    got: list[object] = []
    waiting = threading.Thread(
        target=lambda: got.append(broken.claim(ClaimRequest(free_cores=2, wait_s=20)))
    )
    waiting.start()
    deadline = time.monotonic() + 15
    while not api.driver.signal._waiters:  # its claim waits for work (held: none for it)
        assert time.monotonic() < deadline, "the held worker's claim never waited"
        time.sleep(0.01)
    released = api.client("ops-secret").release_worker("broken")
    assert released.name == "broken" and released.held_reason is None
    # idle, or busy already: its waiting claim may have taken a task meanwhile
    assert released.state is not WorkerState.HELD and released.failures_in_a_row == 0
    waiting.join(timeout=15)  # the release wakes its waiting claim (20 s otherwise)
    assert got and got[0] is not None


def test_release_refusals(api: Api, tmp_path: Path) -> None:
    hold_broken_worker(api, tmp_path)
    for token, status in (("alice-secret", 403), ("worker-secret", 403), (None, 401)):
        response = api.raw(token).post(f"{P}/workers/broken/release")
        assert response.status_code == status, token
    ops = api.raw("ops-secret")
    unknown = ops.post(f"{P}/workers/ghost/release")
    assert (unknown.status_code, unknown.json()["detail"]) == (404, "no worker named 'ghost'")
    fine = ops.post(f"{P}/workers/healthy/release")
    assert (fine.status_code, fine.json()["detail"]) == (409, "worker healthy is not held")
    assert api.client("alice-secret").list_workers().workers[0].held_reason == HELD


def test_a_failure_report_with_a_bad_kind_is_refused(api: Api, tmp_path: Path) -> None:
    submit(api, tmp_path, nbyears=2)
    worker = api.worker(cores=2)
    task = claim(worker, cores=2)
    raw = api.raw("worker-secret")
    assert worker.worker_id is not None
    headers = {"X-Winjobs-Worker": str(worker.worker_id)}
    for body in (
        {"attempt": task.attempt, "reason": "x", "kind": "cosmic rays"},
        {"attempt": task.attempt, "reason": "x", "evidence": {"exit_status": "boom"}},
        {"attempt": task.attempt, "reason": "x", "evidence": {"fatal_line": "x" * 2001}},
    ):
        response = raw.post(f"{P}/tasks/{task.task_id}/fail", json=body, headers=headers)
        assert response.status_code == 422, body
    assert api.driver.store.get_task(task.task_id).status == "running"  # nothing changed


def test_a_bad_config_fingerprint_is_refused(api: Api) -> None:
    response = api.raw("worker-secret").post(
        f"{P}/workers/register",
        json={"name": "x", "cores": 2, "os": "Linux", "versions": ["8.8"], "config_sha256": "z"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "config_sha256"]


def test_release_from_the_client_raises_the_drivers_reason(api: Api) -> None:
    api.worker("fine")
    try:
        api.client("ops-secret").release_worker("fine")
    except ClientError as exc:
        assert exc.status_code == 409 and "worker fine is not held" in str(exc)
    else:
        raise AssertionError("a release of a worker that is not held must be refused")

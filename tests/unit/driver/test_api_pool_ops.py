"""Issue 15 through the API (in-process): why-pending reasons on jobs and tasks, the
submission's warning, the admin's hold/drain/forget, `/status` and `/status/load`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.unit.driver.helpers import Api, claim, make_study, packed_study, standin_run
from winjobs.antares.archive import pack_study
from winjobs.client import ClientError
from winjobs.wire import (
    ClaimRequest,
    EtaBasis,
    Heartbeat,
    JobSubmitFields,
    PolicyReport,
    PolicyState,
    SubmissionCheck,
    TaskFailure,
    WaitCode,
    WorkerRegistration,
    WorkerState,
)


def submit(api: Api, tmp_path: Path, **options: object) -> tuple[int, list[str]]:
    name = f"s{len(list(tmp_path.iterdir()))}"
    archive = packed_study(tmp_path, name=name, **options)  # type: ignore[arg-type]
    created = api.client("alice-secret").submit_job(archive, JobSubmitFields())
    return created.job_id, created.warnings


def test_submit_warns_when_no_online_worker_can_run_the_study(api: Api, tmp_path: Path) -> None:
    api.worker("pc-01", versions=("8.8",))
    job_id, warnings = submit(api, tmp_path, version="9.3")
    assert warnings == [
        "no online worker can run this job now: no online worker has a solver for Antares "
        "9.3 (the online workers have 8.8)"
    ]
    job = api.client("alice-secret").get_job(job_id)
    assert job.waiting is not None and job.waiting.code == WaitCode.NO_SOLVER
    assert job.waiting.pool_versions == ["8.8"]
    listed = api.client("alice-secret").list_jobs().jobs
    assert listed[0].waiting == job.waiting
    assert "waiting: no online worker can run this job now" in api.client("alice-secret").job_log(
        job_id
    )
    _, fine = submit(api, tmp_path)  # an 8.8 study: pc-01 runs it
    assert fine == []


def test_a_submission_is_warned_before_its_upload(api: Api, tmp_path: Path) -> None:
    """`winjobs submit` asks before packing: the same warning the upload would get."""
    user = api.client("alice-secret")
    assert user.check_submission("8.8").warnings == [
        "no online worker can run this job now: no online worker has a solver for Antares "
        "8.8 (no worker is online)"
    ]
    api.worker("pc-01", versions=("8.8",))
    assert user.check_submission("880") == SubmissionCheck(antares_version="8.8", warnings=[])
    before = user.check_submission("9.3").warnings
    assert user.list_jobs().total == 0, "asking submits nothing"
    _, after = submit(api, tmp_path, version="9.3")
    assert before == after and len(before) == 1  # the same words, minutes earlier

    api.clock.advance(3600)  # pc-01 has not been seen for an hour: offline
    [offline] = user.check_submission("8.8").warnings
    assert "the workers with a solver for Antares 8.8 are offline: pc-01" in offline

    with pytest.raises(ClientError) as bad:
        user.check_submission("eight")
    assert bad.value.status_code == 422 and "'eight' is not an Antares version" in str(bad.value)
    with pytest.raises(ClientError) as denied:
        api.client("worker-secret").check_submission("8.8")
    assert denied.value.status_code == 403


def test_jobs_ahead_and_busy_workers_and_the_queued_tasks_reason(api: Api, tmp_path: Path) -> None:
    first, _ = submit(api, tmp_path, nbyears=8)
    worker = api.worker("pc-01", cores=4)
    task = claim(worker, cores=4)  # 4 of first's 8 years
    second, _ = submit(api, tmp_path)
    user = api.client("alice-secret")
    waiting = user.get_job(second).waiting
    assert waiting is not None and waiting.code == WaitCode.JOBS_AHEAD
    assert waiting.jobs_ahead == [first] and waiting.short == "1 job ahead"
    assert "the worker that could run it is busy (4 cores)" in waiting.message
    assert user.get_job(first).waiting is None  # it runs

    worker.heartbeat(task.task_id, Heartbeat(attempt=task.attempt, years_done=2))
    api.clock.advance(60)
    worker.heartbeat(task.task_id, Heartbeat(attempt=task.attempt, years_done=2))
    running = user.get_job(first)
    assert running.eta_basis == EtaBasis.SOLVER_LOG and running.eta_seconds == pytest.approx(180)
    busy = user.get_job(second).waiting
    assert busy is not None and busy.free_at is not None  # pc-01's task ends at its pace


def test_admin_hold_drain_release_forget(api: Api) -> None:
    worker = api.worker("pc-01")
    admin = api.client("ops-secret")
    held = admin.hold_worker("pc-01", "new disk")
    assert (held.state, held.held_reason, held.held_by) == (WorkerState.HELD, "new disk", "ops")
    with pytest.raises(ClientError, match=r"held already \(new disk\): release it first"):
        admin.drain_worker("pc-01")
    admin.release_worker("pc-01")
    drained = admin.drain_worker("pc-01", "OS update")
    assert drained.state is WorkerState.DRAINING and drained.drain_reason == "OS update"
    assert drained.held_reason is None
    assert worker.claim(ClaimRequest(free_cores=4, wait_s=0)) is None

    # restarted after its maintenance, it takes work again; a hold would stay
    registration = WorkerRegistration(name="pc-01", cores=4, os="Linux-test", versions=["8.8"])
    worker.register_worker(registration)
    assert admin.list_workers().workers[0].state is WorkerState.IDLE
    admin.hold_worker("pc-01")
    worker.register_worker(registration)
    assert admin.list_workers().workers[0].held_reason == "held by ops"

    for refused in (
        lambda: api.client("alice-secret").hold_worker("pc-01"),
        lambda: api.client("alice-secret").forget_worker("pc-01"),
    ):
        with pytest.raises(ClientError, match="needs a admin token"):
            refused()
    with pytest.raises(ClientError, match="no worker named 'pc-09'"):
        admin.drain_worker("pc-09")
    with pytest.raises(ClientError, match="worker pc-01 is online"):
        admin.forget_worker("pc-01")
    api.clock.advance(3600)
    assert admin.forget_worker("pc-01").state is WorkerState.OFFLINE
    assert admin.list_workers().workers == []
    assert admin.pool_status().workers_offline == 0  # forgotten: not counted
    worker.register_worker(registration)  # seen again: the same worker, still held
    again = admin.list_workers().workers
    assert [w.name for w in again] == ["pc-01"] and again[0].held_reason == "held by ops"


def test_status_and_load_history(api: Api, tmp_path: Path) -> None:
    submit(api, tmp_path, nbyears=6)
    worker = api.worker("pc-01", cores=4)
    api.worker("pc-02", cores=2, versions=("9.2",))
    task = claim(worker, cores=4)
    api.clock.advance(600)
    worker.heartbeat(task.task_id, Heartbeat(attempt=task.attempt, years_done=4))
    api.worker("pc-02", cores=2, versions=("9.2",))  # seen again: online
    status = api.client("alice-secret").pool_status()
    assert (status.workers_online, status.workers_busy, status.workers_idle) == (2, 1, 1)
    assert (status.cores_busy, status.cores_total) == (4, 6)
    assert status.versions == ["8.8", "9.2"]
    assert (status.jobs_queued, status.jobs_running) == (0, 1)
    assert status.years_left == 2  # 2 years not cut yet; the task's 4 all reported
    assert status.years_per_hour == pytest.approx(4.0)
    assert status.drain_seconds == pytest.approx(1800)

    driver = api.app.state.driver
    driver.sampler.tick()
    api.clock.advance(60)
    driver.sampler.tick()
    history = api.client("alice-secret").load_history(hours=1)
    assert [(p.cores_busy, p.cores_total) for p in history.points] == [(4, 6), (4, 6)]
    api.clock.advance(3 * 3600)
    assert api.client("alice-secret").load_history(hours=1).points == []


def test_metrics_count_each_task_once(api: Api, tmp_path: Path) -> None:
    """Years done, tasks finished and failed by reason, durations, upload sizes, workers
    by state, cores, the queue in years. A worker restarted while its old task's lease
    runs holds two running tasks: it is still one busy worker (it was counted twice)."""
    study = make_study(tmp_path / "study", nbyears=6)
    archive = pack_study(study, tmp_path / "study.zip").path
    api.client("alice-secret").submit_job(archive, JobSubmitFields())
    worker = api.worker("pc-01", cores=2)
    first = claim(worker, cores=2)
    api.clock.advance(90)
    upload = standin_run(study, first.years, tmp_path / "runs", "t1")
    worker.complete_task_upload(first.task_id, first.attempt, upload)
    second = claim(worker, cores=2)
    worker.fail_task(second.task_id, TaskFailure(attempt=1, reason="no disk", release=True))
    lost = claim(worker, cores=2)
    api.worker("pc-01", cores=2)  # restarted: its task still leased, it claims another
    claim(worker, cores=2)
    assert lost.task_id  # two running tasks on pc-01 now

    text = api.raw("ops-secret").get("/metrics").text
    assert 'winjobs_workers{state="busy"} 1' in text
    assert 'winjobs_workers{state="idle"} 0' in text
    assert "winjobs_cores_busy 2\n" in text and "winjobs_cores_total 2\n" in text
    assert "winjobs_queue_years 4\n" in text
    assert "winjobs_years_done_total 2\n" in text
    assert "winjobs_tasks_finished_total 1\n" in text
    assert 'winjobs_tasks_failed_total{reason="released"} 1' in text
    assert 'winjobs_tasks_failed_total{reason="machine"} 0' in text
    assert 'winjobs_task_duration_seconds_bucket{le="60"} 0' in text
    assert 'winjobs_task_duration_seconds_bucket{le="300"} 1' in text
    assert "winjobs_task_duration_seconds_sum 90.000000" in text
    assert f"winjobs_task_upload_bytes_sum {upload.stat().st_size}.000000" in text
    assert len(api.client("ops-secret").list_workers().workers) == 1

    api.clock.advance(3600)  # both leases run out: the sweeper counts them
    api.app.state.driver.sweeper.sweep_once()
    text = api.raw("ops-secret").get("/metrics").text
    assert 'winjobs_tasks_failed_total{reason="lease_expired"} 2' in text


def test_the_eta_from_the_first_minute_rests_on_the_studys_earlier_job(
    api: Api, tmp_path: Path
) -> None:
    study = make_study(tmp_path / "study", nbyears=4)
    archive = pack_study(study, tmp_path / "study.zip").path
    user = api.client("alice-secret")
    first = user.submit_job(archive, JobSubmitFields()).job_id
    worker = api.worker("pc-01", cores=2)
    for name in ("a", "b"):
        task = claim(worker, cores=2)
        api.clock.advance(300)  # 2 years side by side: 300 s a batch
        upload = standin_run(study, task.years, tmp_path / "runs", name)
        worker.complete_task_upload(task.task_id, task.attempt, upload)
    second = user.submit_job(archive, JobSubmitFields()).job_id
    assert user.get_job(second).eta_seconds is None  # nothing runs yet
    claim(worker, cores=2)
    api.clock.advance(10)
    job = user.get_job(second)
    assert job.eta_basis == EtaBasis.HISTORY
    assert job.eta_seconds == pytest.approx(600)  # 4 years at 2 years per 300 s
    assert user.get_job(first).eta_basis is None  # done: no ETA


def test_a_worker_kept_away_by_its_owners_policy_is_the_reason(api: Api, tmp_path: Path) -> None:
    """The only worker that could run the job reports its owner's policy (outside its
    schedule until 19:00): the job waits for that, with the time it comes back."""
    back = datetime(2030, 1, 7, 18, 0, tzinfo=UTC)
    api.client("worker-secret").register_worker(
        WorkerRegistration(
            name="office-pc",
            cores=4,
            os="Windows-test",
            versions=["8.8"],
            policy=PolicyReport(
                state=PolicyState.OUTSIDE_SCHEDULE,
                reason="outside its schedule (weekdays 19:00-07:30)",
                next_work_at=back,
            ),
        )
    )
    job_id, _ = submit(api, tmp_path)
    waiting = api.client("alice-secret").get_job(job_id).waiting
    assert waiting is not None and waiting.code == WaitCode.WORKERS_AWAY
    assert "outside its schedule (weekdays 19:00-07:30)" in waiting.message
    assert waiting.workers == ["office-pc"] and waiting.free_at == back

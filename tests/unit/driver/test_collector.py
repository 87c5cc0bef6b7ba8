"""Task outputs checked and kept; job outputs assembled (and re-assembled after a crash)
from real-format runs written by the stand-in solver."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from tests.unit.driver.helpers import Api, claim, make_study, standin_run
from winjobs.antares.archive import pack_study
from winjobs.antares.output import read_run_info
from winjobs.client import ClientError, DriverClient
from winjobs.driver.collector import restore_moved_years
from winjobs.driver.models import Task
from winjobs.wire import JobStatus, JobSubmitFields, TaskAssignment

NBYEARS = 4


@pytest.fixture
def study(tmp_path: Path) -> Path:
    return make_study(tmp_path / "study", nbyears=NBYEARS)


def submit(api: Api, study: Path, tmp_path: Path, **fields: object) -> int:
    archive = pack_study(study, tmp_path / "study.zip").path
    return api.client("alice-secret").submit_job(archive, JobSubmitFields(**fields)).job_id  # type: ignore[arg-type]


def run_and_upload(
    worker: DriverClient, task: TaskAssignment, study: Path, tmp_path: Path, **options: str
) -> None:
    name = f"task{task.task_id}-a{task.attempt}"
    upload = standin_run(study, task.years, tmp_path / "runs", name, **options)
    worker.complete_task_upload(task.task_id, task.attempt, upload, log_tail="all good")


def wait_assembled(api: Api) -> None:
    assert api.driver.collector.idle.wait(timeout=120), "assembly did not finish"


def test_a_job_is_assembled_into_one_downloadable_run(
    api: Api, study: Path, tmp_path: Path
) -> None:
    job_id = submit(api, study, tmp_path, name="demo")
    worker = api.worker(cores=2)
    tasks = [claim(worker, cores=2), claim(worker, cores=2)]
    assert [t.years for t in tasks] == [[0, 1], [2, 3]]
    for task in tasks:
        run_and_upload(worker, task, study, tmp_path)
    wait_assembled(api)
    alice = api.client("alice-secret")
    job = alice.get_job(job_id)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.years_done, job.result_available, job.eta_seconds) == (NBYEARS, True, None)
    assert job.run_folder is not None and job.run_folder.endswith("eco-demo")
    final = api.driver.files.job_study(job_id) / "output" / job.run_folder
    info = read_run_info(final)
    assert info.years == (0, 1, 2, 3)
    assert sorted(p.name for p in (final / "economy" / "mc-ind").iterdir()) == [
        "00001",
        "00002",
        "00003",
        "00004",
    ]
    assert not (api.driver.files.job_dir(job_id) / "tasks").exists()  # moved, then dropped
    dest = alice.download_result(job_id, tmp_path / "result.zip")
    with zipfile.ZipFile(dest) as result:
        names = result.namelist()
    assert all(n.startswith(f"{job.run_folder}/") for n in names)
    assert f"{job.run_folder}/economy/mc-ind/00004/" in names or any(
        n.startswith(f"{job.run_folder}/economy/mc-ind/00004/") for n in names
    )
    assert "all good" in alice.task_log(job_id, tasks[0].task_id)
    assert re.search(
        rf"succeeded: output {job.run_folder} assembled in \d+\.\d s, {len(tasks)} task outputs",
        alice.job_log(job_id),
    )
    metrics = api.raw("ops-secret").get("/metrics").text
    assert "winjobs_assembly_duration_seconds_count 1\n" in metrics


def test_a_year_subset_is_assembled_as_such(api: Api, study: Path, tmp_path: Path) -> None:
    job_id = submit(api, study, tmp_path, years="1,3")
    worker = api.worker(cores=4)
    task = claim(worker)
    assert task.years == [1, 3]
    run_and_upload(worker, task, study, tmp_path)
    wait_assembled(api)
    job = api.client("alice-secret").get_job(job_id)
    assert job.status == JobStatus.SUCCEEDED, job.error
    final = api.driver.files.job_study(job_id) / "output" / str(job.run_folder)
    assert read_run_info(final).years == (1, 3)


@pytest.mark.parametrize(
    ("years", "options", "message"),
    [
        ([0], {}, "played years 1, the task is years 1-2"),
        ([0, 1], {"version": "9.2.0"}, "made by Antares 9.2, the task asked for 8.8"),
    ],
)
def test_wrong_outputs_are_refused(
    api: Api,
    study: Path,
    tmp_path: Path,
    years: list[int],
    options: dict[str, str],
    message: str,
) -> None:
    job_id = submit(api, study, tmp_path)
    worker = api.worker(cores=2)
    task = claim(worker, cores=2)
    upload = standin_run(study, years, tmp_path / "runs", "bad", **options)
    with pytest.raises(ClientError, match=message) as refused:
        worker.complete_task_upload(task.task_id, task.attempt, upload)
    assert refused.value.status_code == 422
    assert api.client("alice-secret").get_job(job_id).tasks[0].status == "running"
    assert not (api.driver.files.job_dir(job_id) / "tasks").exists()


def test_an_unfinished_run_is_refused(api: Api, study: Path, tmp_path: Path) -> None:
    submit(api, study, tmp_path)
    worker = api.worker(cores=2)
    task = claim(worker, cores=2)
    zipped = standin_run(study, task.years, tmp_path / "runs", "partial")
    with zipfile.ZipFile(zipped) as source, zipfile.ZipFile(tmp_path / "cut.zip", "w") as cut:
        for item in source.infolist():
            if not item.filename.endswith("execution_info.ini"):
                cut.writestr(item, source.read(item))
    with pytest.raises(ClientError, match="did not finish"):
        worker.complete_task_upload(task.task_id, task.attempt, tmp_path / "cut.zip")


def test_a_late_upload_never_replaces_an_accepted_output(
    api: Api, study: Path, tmp_path: Path
) -> None:
    submit(api, study, tmp_path, years="0,1")
    slow, fast = api.worker("slow", cores=2), api.worker("fast", cores=2)
    old = claim(slow, cores=2)
    api.clock.advance(61)
    api.driver.sweeper.sweep_once()
    new = claim(fast, cores=2)
    run_and_upload(fast, new, study, tmp_path)
    with pytest.raises(ClientError) as refused:
        run_and_upload(slow, old, study, tmp_path)
    assert refused.value.status_code == 409
    wait_assembled(api)
    assert api.client("alice-secret").get_job(new.job_id).status == JobStatus.SUCCEEDED


def test_assembly_failure_fails_the_job_and_retry_redoes_it(
    api: Api, study: Path, tmp_path: Path
) -> None:
    job_id = submit(api, study, tmp_path)
    worker = api.worker(cores=4)
    task = claim(worker)
    run_and_upload(worker, task, study, tmp_path)
    wait_assembled(api)
    assert api.client("alice-secret").get_job(job_id).status == JobStatus.SUCCEEDED
    # a second job whose study copy gets damaged before assembly
    job2 = submit(api, study, tmp_path)
    task = claim(worker)
    generaldata = api.driver.files.job_study(job2) / "settings" / "generaldata.ini"
    original = generaldata.read_bytes()
    generaldata.write_text(original.decode().replace("nbyears = 4", "nbyears = 5"))
    run_and_upload(worker, task, study, tmp_path)
    wait_assembled(api)
    alice = api.client("alice-secret")
    failed = alice.get_job(job2)
    assert failed.status == JobStatus.FAILED
    assert failed.error is not None and failed.error.startswith("output assembly failed")
    generaldata.write_bytes(original)
    assert alice.retry_job(job2).status == JobStatus.RUNNING
    wait_assembled(api)
    assert alice.get_job(job2).status == JobStatus.SUCCEEDED


def test_an_interrupted_assembly_is_redone(api: Api, study: Path, tmp_path: Path) -> None:
    """The driver died in the middle of the merge: some years were extracted into its
    staging folder. Redoing the assembly starts again from the kept zips (which the
    merge only reads) and loses no year."""
    job_id = submit(api, study, tmp_path)
    worker = api.worker(cores=2)
    collector = api.driver.collector
    collector.stop()  # completions queue their assembly; nobody runs it yet
    tasks = [claim(worker, cores=2), claim(worker, cores=2)]
    for task in tasks:
        run_and_upload(worker, task, study, tmp_path)
    infos = api.driver.store.job_tasks(job_id)
    kept = [api.driver.files.task_output_zip(job_id, t.id, t.attempt) for t in infos]
    assert all(path.is_file() for path in kept)  # kept zipped, not unpacked
    # reproduce the kill: a merge had extracted years into its staging folder, then nothing
    work = api.driver.files.assembly_dir(job_id)
    _half_done_merge(work)
    collector.assemble(job_id)  # what start-up's recover() queues
    job = api.client("alice-secret").get_job(job_id)
    assert job.status == JobStatus.SUCCEEDED, job.error
    final = api.driver.files.job_study(job_id) / "output" / str(job.run_folder)
    assert len(list((final / "economy" / "mc-ind").iterdir())) == NBYEARS
    assert not list(final.rglob("cut-by-the-kill.txt"))
    assert not work.exists()


def _half_done_merge(work: Path) -> None:
    staging = work / ".name.merging" / "economy" / "mc-ind" / "00001"
    staging.mkdir(parents=True)
    (staging / "cut-by-the-kill.txt").write_text("half written")


def test_restore_moved_years_only_moves_what_is_missing(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "economy" / "mc-ind" / "00001").mkdir(parents=True)
    work = tmp_path / "work"
    moved = work / "x" / "economy" / "mc-ind"
    (moved / "00001").mkdir(parents=True)
    (moved / "00002").mkdir()

    restore_moved_years(work, [Task(years=[0, 1])], [run])
    assert (run / "economy" / "mc-ind" / "00002").is_dir()
    assert (moved / "00001").is_dir()  # its home was not empty: left for the merge to redo


@pytest.mark.postgres
def test_a_job_runs_through_on_postgresql(tmp_path: Path, study: Path, postgres_url: str) -> None:
    """The whole flow (submit, claim, heartbeat, complete, assembly, download) with the
    store on a real PostgreSQL server."""
    from fastapi.testclient import TestClient

    from tests.unit.driver.helpers import FakeClock, driver_settings
    from winjobs.driver.app import create_app
    from winjobs.wire import Heartbeat

    clock = FakeClock()
    settings = driver_settings(tmp_path / "driver", database_url=postgres_url)
    app = create_app(settings, clock=clock)
    with TestClient(app) as http:
        api = Api(app=app, http=http, clock=clock)
        assert api.http.get("/health").json()["database"] == "postgresql"
        job_id = submit(api, study, tmp_path)
        worker = api.worker(cores=2)
        for task in (claim(worker, cores=2), claim(worker, cores=2)):
            worker.heartbeat(task.task_id, Heartbeat(attempt=task.attempt, years_done=1))
            run_and_upload(worker, task, study, tmp_path)
        wait_assembled(api)
        alice = api.client("alice-secret")
        assert alice.get_job(job_id).status == JobStatus.SUCCEEDED
        assert alice.download_result(job_id, tmp_path / "r.zip").stat().st_size > 0


def test_start_up_finishes_an_assembly_the_last_run_left_undone(
    tmp_path: Path, study: Path
) -> None:
    """Every task is in but the driver stopped before assembling (or in the middle of
    it): the next start does it."""
    from fastapi.testclient import TestClient

    from tests.unit.driver.helpers import FakeClock, driver_settings
    from winjobs.driver.app import create_app

    settings = driver_settings(tmp_path / "driver")
    first = create_app(settings, clock=FakeClock())
    with TestClient(first) as http:
        api = Api(app=first, http=http, clock=FakeClock())
        api.driver.collector.stop()  # the driver "dies" before assembling
        job_id = submit(api, study, tmp_path)
        worker = api.worker(cores=2)
        for task in (claim(worker, cores=2), claim(worker, cores=2)):
            run_and_upload(worker, task, study, tmp_path)
        _half_done_merge(api.driver.files.assembly_dir(job_id))
        assert api.client("alice-secret").get_job(job_id).status == JobStatus.RUNNING

    second = create_app(settings, clock=FakeClock())
    with TestClient(second) as http:
        api = Api(app=second, http=http, clock=FakeClock())
        wait_assembled(api)
        job = api.client("alice-secret").get_job(job_id)
        assert job.status == JobStatus.SUCCEEDED, job.error
        final = api.driver.files.job_study(job_id) / "output" / str(job.run_folder)
        assert len(list((final / "economy" / "mc-ind").iterdir())) == NBYEARS


def test_start_up_removes_the_task_outputs_of_a_job_that_succeeded(
    tmp_path: Path, study: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver was killed between recording a job's success and removing its task
    outputs: the next start finishes that clean-up (they would be kept forever)."""
    from fastapi.testclient import TestClient

    from tests.unit.driver.helpers import FakeClock, driver_settings
    from winjobs.driver import collector as collector_module
    from winjobs.driver.app import create_app

    settings = driver_settings(tmp_path / "driver")
    first = create_app(settings, clock=FakeClock())
    with TestClient(first) as http:
        api = Api(app=first, http=http, clock=FakeClock())
        kept = api.driver.files.jobs
        killed = collector_module.remove_tree

        def killed_before_the_tasks_go(path: Path) -> None:
            if path.name != "tasks":  # the kill comes right after finish_job's commit
                killed(path)

        monkeypatch.setattr(collector_module, "remove_tree", killed_before_the_tasks_go)
        job_id = submit(api, study, tmp_path)
        worker = api.worker(cores=4)
        run_and_upload(worker, claim(worker, cores=4), study, tmp_path)
        wait_assembled(api)
        assert api.client("alice-secret").get_job(job_id).status == JobStatus.SUCCEEDED
        tasks = kept / str(job_id) / "tasks"
        assert any(tasks.iterdir())
    monkeypatch.undo()

    second = create_app(settings, clock=FakeClock())
    with TestClient(second) as http:
        api = Api(app=second, http=http, clock=FakeClock())
        assert not tasks.exists() or not any(tasks.iterdir())
        alice = api.client("alice-secret")
        assert alice.get_job(job_id).status == JobStatus.SUCCEEDED
        assert alice.download_result(job_id, tmp_path / "r.zip").stat().st_size > 0

"""Shared mode on the driver through the test client: archives on the shared folder,
`POST /tasks/{id}/complete-shared` (fencing, path checks, verification), collect link
and copy, mixed HTTP and shared tasks, the result zip built on demand, symbolic links
refused by the system."""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.driver.helpers import (
    Api,
    FakeClock,
    claim,
    driver_settings,
    make_study,
    standin_run,
)
from winjobs.antares.archive import pack_study
from winjobs.antares.output import find_run_folders
from winjobs.antares.playlist import write_task_playlist
from winjobs.client import ClientError, DriverClient
from winjobs.driver.app import create_app
from winjobs.driver.retention import Maintenance, apply_clean, plan_clean
from winjobs.driver.shared import check_setup, is_under, symlink_problem
from winjobs.errors import ConfigError
from winjobs.standin.cli import run_solver
from winjobs.wire import (
    JobStatus,
    JobSubmitFields,
    SharedCompletion,
    TaskAssignment,
    Transfer,
    WorkerRegistration,
)

NBYEARS = 4


@pytest.fixture
def study(tmp_path: Path) -> Path:
    return make_study(tmp_path / "study", nbyears=NBYEARS)


def shared_api(tmp_path: Path, clock: FakeClock, collect: str) -> Iterator[Api]:
    settings = driver_settings(
        tmp_path / "driver",
        transfer="shared",
        shared_root=tmp_path / "driver-share",
        collect=collect,
    )
    app = create_app(settings, clock=clock)
    with TestClient(app) as http:
        yield Api(app=app, http=http, clock=clock)


@pytest.fixture
def link_api(tmp_path: Path, clock: FakeClock) -> Iterator[Api]:
    yield from shared_api(tmp_path, clock, "link")


@pytest.fixture
def copy_api(tmp_path: Path, clock: FakeClock) -> Iterator[Api]:
    yield from shared_api(tmp_path, clock, "copy")


def shared_worker(api: Api, share: Path, name: str = "pc1") -> DriverClient:
    client = api.client("worker-secret")
    client.register_worker(
        WorkerRegistration(
            name=name,
            cores=2,
            os="Linux-test",
            versions=["8.8"],
            transfer=Transfer.SHARED,
            shared_output_root=str(share),
        )
    )
    return client


def submit(api: Api, study: Path, tmp_path: Path) -> int:
    archive = pack_study(study, tmp_path / f"study-{len(list(tmp_path.iterdir()))}.zip").path
    return api.client("alice-secret").submit_job(archive, JobSubmitFields()).job_id


def run_on_share(task: TaskAssignment, share: Path, **environ: str) -> Path:
    """What a shared-mode worker does: unpack the archive it was pointed at into its
    shared folder, run the stand-in there; returns the run folder."""
    assert task.shared_archive_path is not None
    folder = share / f"job{task.job_id}-task{task.task_id}-a{task.attempt}"
    with zipfile.ZipFile(task.shared_archive_path) as archive:
        archive.extractall(folder / "study")
    write_task_playlist(folder / "study", task.years)
    argv = ["antares-solver", "-i", str(folder / "study"), f"--force-parallel={len(task.years)}"]
    log = io.StringIO()
    env = {"WINJOBS_STANDIN_SECONDS_PER_YEAR": "0", **environ}
    assert run_solver(argv, env, log) == 0, log.getvalue()[-2000:]
    return find_run_folders(folder / "study")[-1]


def complete(worker: DriverClient, task: TaskAssignment, run: Path) -> None:
    worker.complete_task_shared(
        task.task_id, SharedCompletion(attempt=task.attempt, run_path=str(run), log_tail="ok")
    )


def wait_assembled(api: Api) -> None:
    assert api.driver.collector.idle.wait(timeout=120), "assembly did not finish"


# --------------------------------------------------------------------------- pure checks


@pytest.mark.parametrize(
    ("path", "root", "inside"),
    [
        ("/srv/share/out/job1/run", "/srv/share/out", True),
        ("/srv/share/out", "/srv/share/out", False),
        ("/srv/share/outside/run", "/srv/share/out", False),
        ("/srv/share/out/../../etc", "/srv/share/out", False),
        ("/srv/share/out/./job/run", "/srv/share/out/", True),
        (r"C:\links\PC1_D\out\job1\run", r"C:\links\PC1_D\out", True),
        (r"c:\LINKS\pc1_d\OUT\job1", r"C:\links\PC1_D\out", True),
        (r"C:\links\PC1_D\out2\job1", r"C:\links\PC1_D\out", False),
        (r"C:\links\PC1_D\out\..\..\Windows", r"C:\links\PC1_D\out", False),
        (r"\\PC1\D\out\job1", r"\\PC1\D\out", True),
        ("/anything", "/", False),
    ],
)
def test_run_paths_must_be_inside_the_worker_s_root(path: str, root: str, inside: bool) -> None:
    assert is_under(path, root) is inside


def test_symlink_probe_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert symlink_problem(tmp_path) is None
    assert list(tmp_path.iterdir()) == []  # the probe cleans up

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        error = OSError(1, "A required privilege is not held by the client")
        error.winerror = 1314  # type: ignore[attr-defined]
        raise error

    monkeypatch.setattr(Path, "symlink_to", refuse)
    problem = symlink_problem(tmp_path)
    assert problem is not None
    assert "privilege is not held" in problem
    assert "Developer Mode" in problem and "SeCreateSymbolicLinkPrivilege" in problem
    assert "collect: copy" in problem
    assert list(tmp_path.iterdir()) == []


def test_start_up_check_refuses_a_link_set_up_without_symlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = driver_settings(
        tmp_path / "driver", transfer="shared", shared_root=tmp_path / "share"
    )
    check_setup(settings)
    assert (tmp_path / "share" / "studies").is_dir()
    monkeypatch.setattr(Path, "symlink_to", lambda *a, **k: (_ for _ in ()).throw(OSError(1, "no")))
    with pytest.raises(ConfigError, match="collect: link needs the right"):
        check_setup(settings)
    check_setup(settings.model_copy(update={"collect": "copy"}))  # copy needs no link


def test_start_up_check_refuses_an_unwritable_shared_root(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    settings = driver_settings(tmp_path / "driver", transfer="shared", shared_root=blocker)
    with pytest.raises(ConfigError, match="cannot be written by the driver"):
        check_setup(settings)


def test_shared_transfer_needs_a_shared_root(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="shared_root"):
        driver_settings(tmp_path, transfer="shared")
    with pytest.raises(ConfigError, match="collect"):
        driver_settings(tmp_path, transfer="shared", shared_root=tmp_path, collect="move")
    with pytest.raises(ConfigError, match="log_level"):
        driver_settings(tmp_path, log_level="loud")


# --------------------------------------------------------------------------- the API


def test_collect_link_end_to_end(link_api: Api, study: Path, tmp_path: Path) -> None:
    share = tmp_path / "pc1-share"
    job_id = submit(link_api, study, tmp_path)
    worker = shared_worker(link_api, share)
    tasks = [claim(worker, cores=2), claim(worker, cores=2)]
    for task in tasks:
        assert task.transfer is Transfer.SHARED and task.keep_shared_output
        assert task.shared_archive_path == str(
            tmp_path / "driver-share" / "studies" / f"{task.study_sha256}.zip"
        )
    runs = [run_on_share(task, share) for task in tasks]
    for task, run in zip(tasks, runs, strict=True):
        complete(worker, task, run)
    wait_assembled(link_api)
    alice = link_api.client("alice-secret")
    job = alice.get_job(job_id)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert [t.output_location for t in job.tasks] == [str(run) for run in runs]
    assert job.run_folder is not None
    merged = link_api.driver.files.job_study(job_id) / "output" / job.run_folder
    for year in range(1, NBYEARS + 1):
        linked = merged / "economy" / "mc-ind" / f"{year:05d}"
        assert linked.is_symlink()
        assert linked.resolve().is_relative_to(share.resolve())
    assert not link_api.driver.files.result_zip(job_id).exists()  # built on demand
    dest = alice.download_result(job_id, tmp_path / "result.zip")
    with zipfile.ZipFile(dest) as result:
        assert f"{job.run_folder}/economy/mc-ind/00004/" in result.namelist()
    assert "output kept at" in alice.job_log(job_id)

    # a worker machine that is off: its linked years cannot be zipped, 503 says why
    link_api.driver.files.result_zip(job_id).unlink()
    shutil.rmtree(runs[1] / "economy" / "mc-ind")
    with pytest.raises(ClientError, match="start that worker machine") as refused:
        alice.download_result(job_id, tmp_path / "again.zip")
    assert refused.value.status_code == 503


def test_collect_copy_keeps_a_copy_on_the_driver(
    copy_api: Api, study: Path, tmp_path: Path
) -> None:
    share = tmp_path / "pc1-share"
    job_id = submit(copy_api, study, tmp_path)
    worker = shared_worker(copy_api, share)
    tasks = [claim(worker, cores=2), claim(worker, cores=2)]
    assert not any(task.keep_shared_output for task in tasks)
    for task in tasks:
        run = run_on_share(task, share)
        complete(worker, task, run)
        shutil.rmtree(run.parents[2])  # the worker may delete it once accepted
    wait_assembled(copy_api)
    job = copy_api.client("alice-secret").get_job(job_id)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert all(t.output_location is None for t in job.tasks)
    assert job.run_folder is not None
    merged = copy_api.driver.files.job_study(job_id) / "output" / job.run_folder
    years = sorted(p.name for p in (merged / "economy" / "mc-ind").iterdir())
    assert years == ["00001", "00002", "00003", "00004"]
    assert not any(p.is_symlink() for p in merged.rglob("*"))
    assert copy_api.driver.files.result_zip(job_id).is_file()


def test_complete_shared_is_fenced_and_checks_paths(
    link_api: Api, study: Path, tmp_path: Path
) -> None:
    share = tmp_path / "pc1-share"
    job_id = submit(link_api, study, tmp_path)
    worker = shared_worker(link_api, share)
    task = claim(worker, cores=NBYEARS)
    run = run_on_share(task, share)

    def refused(attempt: int, run_path: str) -> ClientError:
        with pytest.raises(ClientError) as caught:
            worker.complete_task_shared(
                task.task_id, SharedCompletion(attempt=attempt, run_path=run_path)
            )
        return caught.value

    stale = refused(task.attempt + 1, str(run))
    assert stale.status_code == 409 and "stale" in str(stale)
    outside = refused(task.attempt, str(tmp_path / "elsewhere" / "run"))
    assert outside.status_code == 422 and "not inside worker pc1's shared output" in str(outside)
    sneaky = refused(task.attempt, f"{share}/../driver/data")
    assert sneaky.status_code == 422
    missing = refused(task.attempt, str(share / "no-such-run"))
    assert missing.status_code == 422 and "not a folder the driver can read" in str(missing)
    (run / "execution_info.ini").unlink()  # an unfinished run fails the verification
    unfinished = refused(task.attempt, str(run))
    assert unfinished.status_code == 422 and "shared output was refused" in str(unfinished)
    job = link_api.client("alice-secret").get_job(job_id)
    assert job.tasks[0].status == "running"  # nothing changed


def test_complete_shared_needs_a_shared_worker_and_driver(
    api: Api, link_api: Api, study: Path, tmp_path: Path
) -> None:
    submit(link_api, study, tmp_path)
    http_worker = link_api.worker(name="http-pc", cores=NBYEARS)
    task = claim(http_worker, cores=NBYEARS)
    assert task.transfer is Transfer.HTTP and task.shared_archive_path is None
    with pytest.raises(ClientError, match="did not register a shared output folder") as caught:
        http_worker.complete_task_shared(
            task.task_id, SharedCompletion(attempt=task.attempt, run_path=str(tmp_path))
        )
    assert caught.value.status_code == 422
    # a driver in HTTP mode hands shared workers HTTP tasks and refuses shared reports
    submit(api, study, tmp_path)
    worker = shared_worker(api, tmp_path / "share")
    task = claim(worker, cores=NBYEARS)
    assert task.transfer is Transfer.HTTP
    with pytest.raises(ClientError, match="transfer: http") as caught:
        worker.complete_task_shared(
            task.task_id, SharedCompletion(attempt=task.attempt, run_path=str(tmp_path))
        )
    assert caught.value.status_code == 422


def test_mixed_http_and_linked_tasks_assemble(link_api: Api, study: Path, tmp_path: Path) -> None:
    share = tmp_path / "pc1-share"
    job_id = submit(link_api, study, tmp_path)
    shared = shared_worker(link_api, share)
    http = link_api.worker(name="http-pc", cores=2)
    first, second = claim(shared, cores=2), claim(http, cores=2)
    complete(shared, first, run_on_share(first, share))
    upload = standin_run(study, second.years, tmp_path / "runs", "http")
    http.complete_task_upload(second.task_id, second.attempt, upload)
    wait_assembled(link_api)
    job = link_api.client("alice-secret").get_job(job_id)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.run_folder is not None
    mc_ind = link_api.driver.files.job_study(job_id) / "output" / job.run_folder
    mc_ind = mc_ind / "economy" / "mc-ind"
    linked = {p.name for p in mc_ind.iterdir() if p.is_symlink()}
    assert linked == {f"{y + 1:05d}" for y in first.years}
    moved = {p.name for p in mc_ind.iterdir() if not p.is_symlink()}
    assert moved == {f"{y + 1:05d}" for y in second.years}  # HTTP years moved in
    assert not (link_api.driver.files.job_dir(job_id) / "tasks").exists()


def test_no_symlink_right_fails_the_job_with_the_fix(
    link_api: Api, study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    share = tmp_path / "pc1-share"
    job_id = submit(link_api, study, tmp_path)
    worker = shared_worker(link_api, share)
    task = claim(worker, cores=NBYEARS)
    run = run_on_share(task, share)

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(1, "A required privilege is not held by the client")

    monkeypatch.setattr(Path, "symlink_to", refuse)
    complete(worker, task, run)
    wait_assembled(link_api)
    job = link_api.client("alice-secret").get_job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert "Developer Mode" in job.error and "collect: copy" in job.error
    assert link_api.client("alice-secret").me().name == "alice"  # the driver carries on


def test_a_removed_job_s_summary_says_where_its_linked_years_were(
    link_api: Api, study: Path, tmp_path: Path
) -> None:
    share = tmp_path / "pc1-share"
    job_id = submit(link_api, study, tmp_path)
    worker = shared_worker(link_api, share)
    task = claim(worker, cores=NBYEARS)
    run = run_on_share(task, share)
    complete(worker, task, run)
    wait_assembled(link_api)
    submit(link_api, make_study(tmp_path / "other", nbyears=2), tmp_path)  # a newer job
    link_api.clock.advance(60)
    driver = link_api.driver
    plan = plan_clean(driver.store, driver.files, link_api.clock())
    assert [r.job_id for r in plan] == [job_id]
    apply_clean(Maintenance(driver.store, driver.files, driver.dispatch.shared), plan)
    [summary] = driver.store.archived_jobs()
    assert summary.run_folder is not None and summary.status == "succeeded"
    assert summary.linked_outputs == [
        {"task": task.task_id, "worker": "pc1", "years": task.years, "location": str(run)}
    ]
    assert run.is_dir()  # the worker's folder is the worker's to clean

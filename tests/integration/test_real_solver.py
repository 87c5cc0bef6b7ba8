"""The whole loop with the REAL Antares 8.8.10 solver (issue 12): a driver and real
`winjobs worker` processes on loopback, the solver of `../shared/antares/solver-8.8`.

Two shared studies run split over two workers and merge back to their single real runs;
the progress a user sees is parsed from the real log while it runs, and a cancel kills
the real solver within seconds; an unfeasible year comes back as a failed task with the
solver's own words; a `result-format = zip` study comes back as `<run>.zip`, equal to a
single real run's, over HTTP and in shared mode. Skipped, with the reason, where
`../shared` is absent.
"""

from __future__ import annotations

import contextlib
import signal
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from rich.console import Console

from tests.helpers.output_compare import compare_runs
from tests.helpers.real_solver import RealSolver, real_solver
from tests.helpers.study_variants import VariantCache, copy_study, set_settings, study_variants
from tests.integration.harness import (
    Driver,
    Worker,
    cluster,
    fetch_result,
    submit,
    wait_final,
    wait_until,
)
from tests.integration.test_shared_mode import Machines
from winjobs.antares.output import parse_progress
from winjobs.cli.transfer import fetch_result as cli_fetch_result
from winjobs.client import ClientError, DriverClient
from winjobs.wire import JobDetail, JobStatus, TaskStatus, WorkerState

__all__ = ["real_solver", "study_variants"]

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]

#: The driver and the workers of a cluster.
Pool = tuple[Driver, list[Worker]]

FAST = {
    "lease_seconds": 20,
    "heartbeat_interval_s": 0.3,
    "sweep_interval_s": 0.5,
    "claim_max_wait_s": 2,
    "max_attempts": 1,
}


@pytest.fixture(scope="module")
def solver(real_solver: RealSolver) -> Path:
    """The real solver's executable, as the workers' config names it."""
    return real_solver.executable


def _study(shared_antares: Path, name: str, dest: Path, **settings: str) -> Path:
    """A copy of a shared study, `settings` ("section/key": value) set in generaldata."""
    study = copy_study(shared_antares / "studies" / name, dest / name)
    for where, value in settings.items():
        section, key = where.split("/")
        set_settings(study, section, {key: value})
    return study


def _unzipped(run_zip: Path, dest: Path) -> Path:
    with zipfile.ZipFile(run_zip) as opened:
        opened.extractall(dest)
    return dest


def _zip_files(archive: Path) -> list[str]:
    """The files of a zip (the solver writes no folder entries; our packer does)."""
    with zipfile.ZipFile(archive) as opened:
        return sorted(name for name in opened.namelist() if not name.endswith("/"))


def _start(workers: list[Worker], driver: Driver, name: str, solver: Path, **kwargs: Any) -> Worker:
    worker = Worker(driver.root.parent / "workers", driver.url, name, solver, **kwargs)
    workers.append(worker.start())
    return worker


def _registered(client: DriverClient, names: set[str]) -> None:
    def known() -> bool:
        listed = client.list_workers().workers
        return names <= {w.name for w in listed if w.state is not WorkerState.OFFLINE}

    wait_until(known, 60, f"workers {sorted(names)} to register")


def _succeeded(client: DriverClient, job_id: int) -> JobDetail:
    job = wait_final(client, job_id, 180)
    assert job.status is JobStatus.SUCCEEDED, f"{job.error}\n{client.job_log(job_id)}"
    return job


def _assert_equal_runs(merged: Path, single: Path) -> None:
    problems = compare_runs(single, merged)
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize(
    ("name", "variant", "total"),
    [
        ("multiple-ntc-sc-builder", "full", 5),  # a year done at each export
        ("thermal-refresh", "year-by-year-off", 10),  # batches done, uneven ones
        ("power-fluctuations-adequacy-v800", "as-is", 5),  # no synthesis either
    ],
)
def test_progress_follows_the_real_log_with_and_without_year_by_year(
    shared_antares: Path,
    real_solver: RealSolver,
    study_variants: VariantCache,
    name: str,
    variant: str,
    total: int,
) -> None:
    """Replayed line by line, the real log gives years done that only grow, show years
    done before the end, and reach the total at the end, whether the years are exported
    one by one (year-by-year) or only known done batch by batch, with or without mc-all."""
    study = study_variants.get(shared_antares / "studies" / name, variant)
    lines = real_solver.run(study).stdout.splitlines(keepends=True)
    seen = [parse_progress("".join(lines[:n])) for n in range(len(lines) + 1)]
    done = [p.years_done for p in seen]
    assert seen[-1].years_total == total
    assert done == sorted(done), "progress went back"
    assert done[-1] == total
    partial = sorted({d for d in done if 0 < d < total})
    assert len(partial) >= 2, f"no progress seen before the end: {partial}"


@pytest.fixture(scope="module")
def pool(solver: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    """A driver and two one-core workers running the real solver, for the whole module:
    each test runs its own jobs on them (starting a cluster costs more than a job)."""
    root = tmp_path_factory.mktemp("pool")
    with cluster(root, FAST) as (driver, workers), driver.user() as client:
        for name in ("w1", "w2"):
            _start(workers, driver, name, solver, cores=1)
        _registered(client, {"w1", "w2"})
        yield driver, workers


def test_two_studies_on_two_workers_equal_their_single_runs(
    shared_antares: Path,
    real_solver: RealSolver,
    study_variants: VariantCache,
    pool: Pool,
    tmp_path: Path,
) -> None:
    studies = shared_antares / "studies"
    ntc = study_variants.get(studies / "multiple-ntc-sc-builder", "as-is")  # 5 years
    cold = study_variants.get(studies / "playlist-1-cold", "as-is")  # years 2, 3: weights 10, 3
    driver, _ = pool
    with driver.user() as client:
        jobs = [submit(client, study, tmp_path) for study in (ntc, cold)]
        done = [_succeeded(client, job_id) for job_id in jobs]
        assert {task.worker for job in done for task in job.tasks} == {"w1", "w2"}
        assert len(done[0].tasks) > 1, "the 5-year study should have been split"
        merged = [fetch_result(client, job_id, tmp_path / f"result-{job_id}") for job_id in jobs]
    for run, study in zip(merged, (ntc, cold), strict=True):
        _assert_equal_runs(run, real_solver.run(study).folder())


def test_real_progress_is_shown_while_it_runs_and_cancel_kills_the_solver(
    shared_antares: Path, pool: Pool, tmp_path: Path
) -> None:
    """200 years on two one-core workers: tasks of 50 years, half a minute each."""
    study = _study(
        shared_antares, "multiple-ntc-sc-builder", tmp_path, **{"general/nbyears": "200"}
    )
    driver, workers = pool
    with driver.user() as client:
        with _long_job(client, study, tmp_path) as job_id:
            job = wait_until(
                lambda: _progressing(client, job_id, workers=2), 120, "progress from the real logs"
            )
            for task in job.tasks:
                if task.status is TaskStatus.RUNNING:
                    assert 2 <= task.years_done < len(task.years), "progress before the end"
            assert job.years_done >= 4 and job.status is JobStatus.RUNNING
            trees = [_solver_tree(worker) for worker in workers]
            client.cancel_job(job_id)
            started = time.monotonic()
            _, alive = psutil.wait_procs([p for tree in trees for p in tree], timeout=10)
            kill_s = time.monotonic() - started
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
        assert kill_s < 5, f"the real solvers took {kill_s:.1f} s to die"
        job = client.get_job(job_id)
        assert job.status is JobStatus.CANCELLED
        assert all(t.status is TaskStatus.CANCELLED for t in job.tasks)
        assert all(w.process is not None and w.process.poll() is None for w in workers)
        print(f"real solvers killed {kill_s:.2f} s after the cancel")


@contextlib.contextmanager
def _long_job(client: DriverClient, study: Path, tmp_path: Path) -> Iterator[int]:
    """A job of many years that must not outlive its test (the pool serves the next
    ones): cancelled on the way out, whatever happened."""
    job_id = submit(client, study, tmp_path)
    try:
        yield job_id
    finally:
        with contextlib.suppress(ClientError):  # already over: fine
            client.cancel_job(job_id)


def _progressing(client: DriverClient, job_id: int, workers: int) -> JobDetail | None:
    """The job once the tasks of `workers` workers reported two finished years each
    (read from the solver's log)."""
    job = client.get_job(job_id)
    running = [t for t in job.tasks if t.status is TaskStatus.RUNNING and t.years_done >= 2]
    return job if len({t.worker for t in running}) >= workers else None


def _solver_tree(worker: Worker) -> list[psutil.Process]:
    """The real solver a worker runs, and anything it started."""
    [root] = psutil.Process(worker.pid).children()
    assert root.name().startswith("antares"), root.name()
    return [root, *root.children(recursive=True)]


def test_a_real_solver_ended_by_sigterm_is_a_failure_not_a_result(
    shared_antares: Path, pool: Pool, tmp_path: Path
) -> None:
    """SIGTERM (a shutdown, an operator) makes the real solver exit 0 and finish writing
    a partial `<run>.zip`: the strict check must see a failure, not a run to merge."""
    study = _study(
        shared_antares,
        "multiple-ntc-sc-builder",
        tmp_path,
        **{"general/nbyears": "200", "output/result-format": "zip"},
    )
    driver, workers = pool
    with driver.user() as client, _long_job(client, study, tmp_path) as job_id:
        job = wait_until(lambda: _progressing(client, job_id, workers=1), 120, "progress")
        victim = next(t.worker for t in job.tasks if t.years_done >= 2)
        [solver] = _solver_tree(next(w for w in workers if w.name == victim))
        solver.send_signal(signal.SIGTERM)
        job = wait_final(client, job_id, 120)
    assert job.status is JobStatus.FAILED
    [failed] = [t for t in job.tasks if t.status is TaskStatus.FAILED]
    assert failed.worker == victim
    assert failed.error is not None
    assert "has no execution_info.ini: the run did not finish normally" in failed.error
    assert failed.log_tail is not None
    assert "[signal] received signal SIGTERM. Exiting..." in failed.log_tail


def test_an_unfeasible_year_fails_its_task_with_the_solver_s_own_reason(
    shared_antares: Path, pool: Pool, tmp_path: Path
) -> None:
    study = _study(
        shared_antares,
        "unfeasible-problem-01-v810",
        tmp_path,
        **{"optimization/include-unfeasible-problem-behavior": "error-verbose"},
    )
    driver, _ = pool
    with driver.user() as client:
        job_id = submit(client, study, tmp_path, years="1,2")  # years 2-3: 3 is unfeasible
        job = wait_final(client, job_id, 120)
        assert job.status is JobStatus.FAILED
        [failed] = [t for t in job.tasks if t.status is TaskStatus.FAILED]
        assert failed.years == [2]
        reason = "Year 3 failed at week 19."
        assert failed.error is not None and reason in failed.error
        assert job.error is not None and reason in job.error
        assert failed.log_tail is not None and f"[fatal] {reason}" in failed.log_tail
        assert "\x1b" not in failed.log_tail, "the solver's colour codes must not reach users"
        assert reason in client.job_log(job_id)
        assert f"[fatal] {reason}" in client.task_log(job_id, failed.id)


@pytest.fixture(scope="module")
def zip_study(
    shared_antares: Path, real_solver: RealSolver, study_variants: VariantCache
) -> tuple[Path, Path]:
    """playlist-1-cold (years 2 and 3, weights 10 and 3) written as `<run>.zip`, with
    year-by-year output, and its single real run."""
    study = study_variants.get(shared_antares / "studies" / "playlist-1-cold", "zip")
    return study, real_solver.run(study).folder()


def test_a_zip_study_comes_back_as_the_zipped_run_a_single_run_gives(
    zip_study: tuple[Path, Path], pool: Pool, tmp_path: Path
) -> None:
    study, single = zip_study
    driver, _ = pool
    with driver.user() as client:
        job = _succeeded(client, submit(client, study, tmp_path))
        assert {task.worker for task in job.tasks} == {"w1", "w2"}, "one year each"
        dest = tmp_path / "download"
        result = cli_fetch_result(client, job, dest, Console(quiet=True))
    _assert_same_zipped_run(result, dest, job, single, tmp_path)


def test_a_zip_study_in_shared_mode_comes_back_zipped(
    zip_study: tuple[Path, Path], solver: Path, tmp_path: Path
) -> None:
    study, single = zip_study
    machines = Machines(tmp_path / "machines")
    settings = {**FAST, **machines.driver_settings("link")}
    with cluster(tmp_path / "cluster", settings) as (driver, workers), driver.user() as client:
        for name in ("pc1", "pc2"):
            _start(workers, driver, name, solver, cores=1, settings=machines.worker_settings(name))
        _registered(client, {"pc1", "pc2"})
        job = _succeeded(client, submit(client, study, tmp_path))
        assert all(task.output_location for task in job.tasks), "the runs stay on the shares"
        dest = tmp_path / "download"
        result = cli_fetch_result(client, job, dest, Console(quiet=True))
    _assert_same_zipped_run(result, dest, job, single, tmp_path)


def _assert_same_zipped_run(
    result: Path, dest: Path, job: JobDetail, single: Path, tmp_path: Path
) -> None:
    """`<run>.zip` alone in the destination, laid out like the solver's own zip (entries
    relative to the run, the same files), and equal to it as an output."""
    assert single.is_file() and single.suffix == ".zip", "the solver zipped its run"
    assert result == dest / f"{job.run_folder}.zip" and result.is_file()
    assert sorted(p.name for p in dest.iterdir()) == [result.name]
    assert _zip_files(result) == _zip_files(single)
    _assert_equal_runs(
        _unzipped(result, tmp_path / "merged-run"), _unzipped(single, tmp_path / "single-run")
    )

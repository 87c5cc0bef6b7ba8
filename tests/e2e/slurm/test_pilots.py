"""The queue run by Slurm pilots that `winjobs slurm` submits to a real cluster.

Each test has its own driver and pool; the stand-in solver's pace
(`WINJOBS_STANDIN_SECONDS_PER_YEAR`, exported to the pilots by sbatch) makes tasks last
long enough to act on them mid-run.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.slurm.conftest import DRIVER, SECONDS, Pool, leftovers
from tests.integration.compare import assert_same_run, mc_ind_years
from tests.integration.harness import (
    USER_TOKEN,
    WINJOBS,
    Driver,
    Worker,
    clean_env,
    fetch_result,
    make_study,
    single_machine_run,
    standin_solver,
    submit,
    wait_final,
    wait_until,
)
from tests.slurm_cluster import SPARE_PARTITION, SlurmCluster
from winjobs.client import DriverClient
from winjobs.wire import JobDetail, JobStatus, PilotInfo, TaskStatus

pytestmark = [pytest.mark.slow, pytest.mark.slurm, pytest.mark.xdist_group("slurm")]

YEARS = 4


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A single-machine run of the study, to compare the pilots' output with."""
    root = tmp_path_factory.mktemp("clean")
    return single_machine_run(root, standin_solver(root / "bin"), YEARS)


#: Slurm job states before the job's end: COMPLETING (its processes being cleaned up)
#: comes before COMPLETED, CANCELLED or TIMEOUT
NOT_ENDED = ("PENDING", "CONFIGURING", "RUNNING", "SUSPENDED", "COMPLETING")


def succeeded(client: DriverClient, job_id: int) -> JobDetail:
    job = wait_final(client, job_id, 240)
    assert job.status is JobStatus.SUCCEEDED, job.error
    return job


def pilots(client: DriverClient) -> list[PilotInfo]:
    return [pilot for pool in client.list_workers().pools for pilot in pool.pilots]


def workers_command(driver: Driver) -> str:
    """`winjobs workers` as a user types it."""
    env = clean_env(WINJOBS_DRIVER=driver.url, WINJOBS_TOKEN=USER_TOKEN, COLUMNS="200")
    return subprocess.run(
        [str(WINJOBS), "workers"], capture_output=True, text=True, env=env, timeout=60, check=True
    ).stdout


def years_once(job: JobDetail) -> None:
    """Every year of the job in exactly one succeeded task."""
    assert all(task.status is TaskStatus.SUCCEEDED for task in job.tasks)
    assert sorted(year for task in job.tasks for year in task.years) == job.years


def test_pilots_run_a_job_and_leave_when_the_queue_is_empty(
    cluster: SlurmCluster, tmp_path: Path, clean_run: Path
) -> None:
    """Three pilots of one core for four years on a node of two cores: two run, the
    third waits in Slurm's queue until the queue has nothing left, and is cancelled."""
    driver = Driver(tmp_path / "driver", settings=DRIVER).start()
    pool = Pool(tmp_path / "pool", cluster, driver.url, {"max_pilots": 3}).start()
    try:
        with driver.user() as client:
            job_id = submit(client, make_study(tmp_path, YEARS), tmp_path)
            running = wait_until(
                lambda: pool.alive() and [p for p in pilots(client) if p.state == "RUNNING"],
                120,
                "a running pilot on the driver",
            )
            assert running[0].worker == pool.worker(running[0].job_id)

            # Slurm's side, with the workers: the third pilot waits for a core (the pool
            # may submit it a moment after the first two started)
            def pending_table() -> str | None:
                table = workers_command(driver)
                return table if "PENDING" in table else None

            table = wait_until(pending_table, 60, "the third pilot pending in `winjobs workers`")
            assert f"Slurm pool {pool.name}" in table and running[0].job_id in table, table
            job = succeeded(client, job_id)
            ours = {pool.worker(p["id"]) for p in pool.jobs(every=True)}
            assert {task.worker for task in job.tasks} <= ours
            fetched = fetch_result(client, job_id, tmp_path / "fetched")
            assert mc_ind_years(fetched) == list(range(1, YEARS + 1))
            assert_same_run(fetched, clean_run)
            # the pilots end by themselves once a claim finds no work
            wait_until(lambda: not pool.jobs(), 120, "the pilots to end")
            ended = {p["id"]: p["state"] for p in pool.jobs(every=True)}
            ran = {pool.pilot_of(task.worker) for task in job.tasks}
            assert {ended[p] for p in ran} == {"COMPLETED"}, ended  # they ended by themselves
            assert sorted(ended.values()).count("CANCELLED") == 1, ended  # never started
        assert pool.stop() == 0, pool.log()[-3000:]
    finally:
        pool.stop()
        driver.stop()
    log = pool.log()
    assert "submitted pilot" in log and f"registered as worker {pool.name}-" in log
    assert cluster.jobs() == []
    assert leftovers(tmp_path) == []


def test_a_pilot_cancelled_mid_task_loses_nothing(cluster: SlurmCluster, tmp_path: Path) -> None:
    """One pilot of one core at a time: it takes years 1-2 in one task (half of the
    pool's work), and is cancelled once it has finished the first of them."""
    driver = Driver(tmp_path / "driver", settings=DRIVER).start()
    settings = {"max_pilots": 1}
    pool = Pool(tmp_path / "pool", cluster, driver.url, settings, seconds_per_year="1").start()
    try:
        with driver.user() as client:
            job_id = submit(client, make_study(tmp_path, YEARS), tmp_path)

            def busy_pilot_task() -> tuple[int, str] | None:
                pool.alive()
                for task in client.get_job(job_id).tasks:
                    running = task.status is TaskStatus.RUNNING
                    if running and 1 <= task.years_done < len(task.years):  # mid-task
                        return task.id, pool.pilot_of(task.worker)
                return None

            task_id, victim = wait_until(busy_pilot_task, 120, "a pilot in the middle of a task")
            cluster.run("scancel", victim)
            job = succeeded(client, job_id)
            fetched = fetch_result(client, job_id, tmp_path / "fetched")
        years_once(job)
        assert mc_ind_years(fetched) == list(range(1, YEARS + 1))
        [lost] = [task for task in job.tasks if task.id == task_id]
        assert lost.attempts >= 2 and lost.worker != pool.worker(victim)
        assert cluster.job(victim)["JobState"] == "CANCELLED"
    finally:
        pool.stop()
        driver.stop()


def test_a_pilot_near_its_time_limit_drains_instead_of_being_killed(
    cluster: SlurmCluster, tmp_path: Path
) -> None:
    """Time limit 1 minute (Slurm's smallest), drain margin 35 s: the pilot claims for its
    first 25 s, finishes its task and ends; the job still has years for other pilots."""
    driver = Driver(tmp_path / "driver", settings={**DRIVER, "chunk_policy": "cores"}).start()
    settings = {"time_limit": "1", "drain_margin_s": 35, "max_pilots": 1}
    pool = Pool(tmp_path / "pool", cluster, driver.url, settings, seconds_per_year="1").start()
    try:
        with driver.user() as client:
            job_id = submit(client, make_study(tmp_path, 60), tmp_path)
            first = wait_until(lambda: pool.alive() and pool.jobs(every=True), 120, "a pilot")[0][
                "id"
            ]
            wait_until(
                lambda: pool.alive() and cluster.job(first)["JobState"] not in NOT_ENDED,
                120,
                f"pilot {first} to end",
            )
            state = cluster.job(first)
            job = client.get_job(job_id)
            client.cancel_job(job_id)
        assert state["JobState"] == "COMPLETED", state  # not TIMEOUT: it ended by itself
        assert job.years_done < len(job.years)  # work was left: it drained, not ran dry
        output = pool.pilot_output(first)
        assert "drain time reached" in output, output
        ran = [task for task in job.tasks if task.worker == pool.worker(first)]
        assert ran, "the pilot ran no task"
        assert all(t.status is TaskStatus.SUCCEEDED and t.attempts == 1 for t in ran), ran
    finally:
        pool.stop()
        driver.stop()


def test_bad_settings_stop_the_manager_with_slurms_message(
    cluster: SlurmCluster, tmp_path: Path
) -> None:
    pool = Pool(tmp_path / "pool", cluster, "http://127.0.0.1:9", {"partition": "nope"})
    result = subprocess.run(
        pool.command(), capture_output=True, text=True, env=pool.env(), timeout=120, check=False
    )
    assert result.returncode == 2, result.stderr
    assert "invalid partition specified: nope" in result.stderr
    assert "Traceback" not in result.stderr
    assert pool.jobs(every=True) == []


def test_a_refused_sbatch_is_retried_and_reasons_are_shown(
    cluster: SlurmCluster, tmp_path: Path
) -> None:
    """The partition goes inactive under a running manager: sbatch's refusal is logged
    and shown on the driver, retried; then down: the pilot pends with Slurm's reason."""
    driver = Driver(tmp_path / "driver", settings=DRIVER).start()
    settings = {"partition": SPARE_PARTITION, "max_pilots": 1}
    pool = Pool(tmp_path / "pool", cluster, driver.url, settings).start()
    spare = f"PartitionName={SPARE_PARTITION}"
    try:
        with driver.user() as client:
            wait_until(lambda: pool.alive() and client.list_workers().pools, 60, "a report")
            cluster.run("scontrol", "update", spare, "State=INACTIVE")
            job_id = submit(client, make_study(tmp_path, 2), tmp_path)
            wait_until(
                lambda: pool.alive() and pool.log().count("sbatch refused a pilot") >= 2,
                60,
                "sbatch to be refused twice",
            )
            [shown] = client.list_workers().pools
            assert shown.problem is not None and "partition not available" in shown.problem
            cluster.run("scontrol", "update", spare, "State=DOWN")
            pending = wait_until(
                lambda: pool.alive() and [p for p in pilots(client) if p.reason == "PartitionDown"],
                60,
                "a pilot pending for its partition",
            )
            table = workers_command(driver)
            assert pending[0].job_id in table and "PENDING" in table and "PartitionDown" in table
            cluster.run("scontrol", "update", spare, "State=UP")
            wait_until(
                lambda: pool.alive() and client.get_job(job_id).tasks,
                120,
                "the pilot to take a task once its partition is up",
            )
            assert client.get_job(job_id).tasks[0].worker == pool.worker(pending[0].job_id)
    finally:
        cluster.run("scontrol", "update", spare, "State=UP", check=False)
        pool.stop()
        driver.stop()
    assert "Batch job submission failed: Required partition not available" in pool.log()


def test_an_office_worker_and_shared_mode_pilots_share_a_job(
    cluster: SlurmCluster, tmp_path: Path
) -> None:
    """A mixed pool: an ordinary HTTP worker (a slow office PC: 3 s a year) and pilots
    writing their runs to the cluster's shared file system, which the driver links its
    merged output to. The office PC, alone when the job comes, takes half of it; the
    pilots get the rest as they register."""
    shared = tmp_path / "cluster-fs"
    out = shared / "winjobs-out"
    driver_settings = {**DRIVER, "transfer": "shared", "shared_root": str(shared / "driver")}
    driver = Driver(tmp_path / "driver", settings=driver_settings).start()
    office = Worker(
        tmp_path / "office", driver.url, "office-pc", standin_solver(tmp_path / "bin"), cores=1,
        env={SECONDS: "3"},
    ).start()  # fmt: skip
    template = {"transfer": "shared", "shared_output_dir": str(out), "shared_output_root": str(out)}
    pool = Pool(tmp_path / "pool", cluster, driver.url, {"worker": template}).start()
    try:
        with driver.user() as client:
            wait_until(lambda: client.list_workers().workers, 60, "the office PC")
            job_id = submit(client, make_study(tmp_path, 6), tmp_path)
            job = succeeded(client, job_id)
        workers = {task.worker for task in job.tasks}
        assert "office-pc" in workers and any(w and w.startswith(pool.name) for w in workers)
        years_once(job)
        for task in job.tasks:
            if task.worker == "office-pc":
                assert task.output_location is None  # uploaded over HTTP
            else:
                assert task.output_location is not None
                assert Path(task.output_location).is_relative_to(out / str(task.worker))
        assert job.run_folder is not None
        merged = tmp_path / "driver" / "data" / "jobs" / str(job_id) / "study" / "output"
        assert mc_ind_years(merged / job.run_folder) == list(range(1, 7))
    finally:
        office.stop()
        pool.stop()
        driver.stop()

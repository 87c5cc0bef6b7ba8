"""`winjobs clean data` on the driver: which jobs go, what stays, the summary rows."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.unit.driver.helpers import Api, claim, packed_study
from winjobs.driver.db import make_engine, migrate
from winjobs.driver.models import Base
from winjobs.driver.retention import (
    ARCHIVE_GRACE_S,
    Maintenance,
    apply_clean,
    maintenance,
    plan_clean,
)
from winjobs.wire import JobStatus, JobSubmitFields


def submit(api: Api, tmp_path: Path, nbyears: int = 2) -> int:
    archive = packed_study(tmp_path, name=f"s{time.monotonic_ns()}", nbyears=nbyears)
    return api.client("alice-secret").submit_job(archive, JobSubmitFields()).job_id


def target(api: Api) -> Maintenance:
    driver = api.driver
    return Maintenance(driver.store, driver.files, driver.dispatch.shared)


def age_archives(api: Api) -> None:
    """Make every stored archive look unused for longer than the grace period."""
    old = time.time() - ARCHIVE_GRACE_S - 60
    for archive in api.driver.files.studies.iterdir():
        os.utime(archive, (old, old))


def test_only_finished_jobs_go_and_a_summary_stays(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    cancelled = submit(api, tmp_path, nbyears=5)  # a study of its own
    alice.cancel_job(cancelled)
    running = submit(api, tmp_path)
    queued = submit(api, tmp_path, nbyears=3)
    worker = api.worker(cores=1)
    assert claim(worker, cores=1).job_id == running  # first come, first served
    newest = submit(api, tmp_path)
    alice.cancel_job(newest)
    api.clock.advance(3600)
    before = api.clock()
    files = api.driver.files

    plan = plan_clean(api.driver.store, files, before)
    # SQLite hands the highest id out again once its row is gone: the newest job stays
    assert [r.job_id for r in plan] == [cancelled]
    assert plan[0].size > 0
    assert files.job_dir(cancelled).is_dir()  # planning changes nothing

    age_archives(api)
    report = apply_clean(target(api), plan)
    assert [r.job_id for r in report.removed] == [cancelled]
    assert not files.job_dir(cancelled).exists()
    for job_id in (running, queued, newest):
        assert files.job_dir(job_id).is_dir()
    assert alice.get_job(running).status is JobStatus.RUNNING
    assert alice.get_job(queued).status is JobStatus.QUEUED
    assert alice.get_job(newest).status is JobStatus.CANCELLED
    with pytest.raises(Exception, match="no job"):
        alice.get_job(cancelled)
    [summary] = api.driver.store.archived_jobs()
    assert (summary.job_id, summary.status, summary.submitter) == (cancelled, "cancelled", "alice")
    assert summary.years == [0, 1, 2, 3, 4] and summary.bytes_freed == plan[0].size
    assert summary.linked_outputs == []
    # the removed job's archive was its own: it went; the others' stayed
    kept = {p.name.removesuffix(".zip") for p in files.studies.iterdir()}
    assert kept == api.driver.store.study_hashes()
    assert len(report.archives) == 1


def test_a_job_retried_meanwhile_keeps_everything(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    first = submit(api, tmp_path)
    alice.cancel_job(first)
    submit(api, tmp_path)  # a newer job, so `first` is not the newest
    api.clock.advance(60)
    plan = plan_clean(api.driver.store, api.driver.files, api.clock())
    assert [r.job_id for r in plan] == [first]
    alice.retry_job(first)  # queued again between the plan and its execution
    report = apply_clean(target(api), plan)
    assert report.removed == [] and report.skipped == [first]
    assert api.driver.files.job_dir(first).is_dir()
    assert alice.get_job(first).status is JobStatus.QUEUED
    assert api.driver.store.archived_jobs() == []


def test_recently_used_archives_are_spared(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    gone = submit(api, tmp_path, nbyears=5)
    alice.cancel_job(gone)
    submit(api, tmp_path)
    api.clock.advance(60)
    report = apply_clean(target(api), plan_clean(api.driver.store, api.driver.files, api.clock()))
    assert [r.job_id for r in report.removed] == [gone]
    assert report.archives == []  # unreferenced, but touched within the grace period
    assert len(list(api.driver.files.studies.iterdir())) == 2


def test_jobs_younger_than_the_cut_stay(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    job = submit(api, tmp_path)
    alice.cancel_job(job)
    submit(api, tmp_path)
    assert plan_clean(api.driver.store, api.driver.files, api.clock() - timedelta(1)) == []


def test_maintenance_opens_and_migrates_the_database(api: Api, tmp_path: Path) -> None:
    with maintenance(api.driver.settings) as opened:
        assert opened.store.archived_jobs() == []
        assert opened.files.root == api.driver.files.root


def test_migrations_match_the_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert differences == []

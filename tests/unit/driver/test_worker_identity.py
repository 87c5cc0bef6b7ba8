"""A worker's id belongs to the token it registered with: another worker token sending
that id gets 403 and changes nothing, and cannot take the worker's name over."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient

from tests.unit.driver.helpers import TOKENS, Api, FakeClock, claim, driver_settings, packed_study
from winjobs.client import ClientError, DriverClient
from winjobs.driver.app import create_app
from winjobs.driver.db import MIGRATIONS_DIR, make_engine, migrate
from winjobs.wire import (
    ClaimRequest,
    Heartbeat,
    JobSubmitFields,
    TaskAssignment,
    TaskFailure,
    WorkerRegistration,
)

OTHER_POOL = {"name": "pool-b", "role": "worker", "token": "pool-b-secret"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    clock = FakeClock()
    app = create_app(driver_settings(tmp_path / "driver", tokens=[*TOKENS, OTHER_POOL]), clock)
    with TestClient(app) as http:
        yield Api(app=app, http=http, clock=clock)


def _impostor(api: Api, victim: DriverClient) -> DriverClient:
    """The other pool's token, sending the victim's worker id."""
    impostor = api.client("pool-b-secret")
    impostor.worker_id = victim.worker_id
    return impostor


def _running(api: Api, tmp_path: Path) -> tuple[DriverClient, TaskAssignment]:
    api.client("alice-secret").submit_job(packed_study(tmp_path, nbyears=8), JobSubmitFields())
    victim = api.worker("pc-01")
    return victim, claim(victim)


REPORTS: dict[str, Callable[[DriverClient, TaskAssignment, Path], object]] = {
    "heartbeat": lambda c, t, _: c.heartbeat(t.task_id, Heartbeat(attempt=t.attempt)),
    "release": lambda c, t, _: c.fail_task(
        t.task_id, TaskFailure(attempt=t.attempt, reason="mine now", release=True)
    ),
    "fail": lambda c, t, _: c.fail_task(t.task_id, TaskFailure(attempt=t.attempt, reason="x")),
    "complete": lambda c, t, tmp: c.complete_task_upload(t.task_id, t.attempt, tmp / "x.zip"),
    "claim": lambda c, _t, _: c.claim(ClaimRequest(free_cores=4, wait_s=0)),
}


@pytest.mark.parametrize("report", REPORTS, ids=list(REPORTS))
def test_another_token_cannot_use_a_worker_s_id(api: Api, tmp_path: Path, report: str) -> None:
    victim, task = _running(api, tmp_path)
    (tmp_path / "x.zip").write_bytes(b"PK")
    api.clock.advance(50)
    with pytest.raises(ClientError) as refused:
        REPORTS[report](_impostor(api, victim), task, tmp_path)
    assert refused.value.status_code == 403, refused.value
    assert "registered with another token" in str(refused.value)
    detail = api.client("alice-secret").get_job(task.job_id)
    assert [(t.status, t.attempts) for t in detail.tasks] == [("running", 1)]
    api.clock.advance(15)  # the lease (60 s) ran out: the impostor did not renew it
    assert [e.task_id for e in api.driver.sweeper.sweep_once()] == [task.task_id]


def test_another_token_cannot_take_a_registered_name(api: Api, tmp_path: Path) -> None:
    victim, task = _running(api, tmp_path)
    thief = api.client("pool-b-secret")
    with pytest.raises(ClientError) as refused:
        thief.register_worker(WorkerRegistration(name="pc-01", cores=4, os="x", versions=["8.8"]))
    assert refused.value.status_code == 403 and "belongs to another worker token" in str(
        refused.value
    )
    assert thief.worker_id is None
    assert not victim.heartbeat(task.task_id, Heartbeat(attempt=task.attempt)).cancel
    again = api.client("worker-secret").register_worker(
        WorkerRegistration(name="pc-01", cores=2, os="x", versions=["8.8"])
    )
    assert again.worker_id == victim.worker_id  # its own token: the same worker


def test_each_token_registers_its_own_names(api: Api) -> None:
    first, second = api.worker("pc-01"), api.client("pool-b-secret")
    second.register_worker(WorkerRegistration(name="pc-02", cores=4, os="x", versions=["8.8"]))
    assert second.worker_id not in (None, first.worker_id)
    assert second.claim(ClaimRequest(free_cores=4, wait_s=0)) is None


def test_a_worker_registered_before_owners_is_bound_at_its_next_registration(
    tmp_path: Path,
) -> None:
    """Revision 0003 adds the owner; a row from before it has none until it registers."""
    url = f"sqlite:///{tmp_path / 'driver' / 'winjobs.db'}"
    (tmp_path / "driver").mkdir()
    engine = make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(
            sa.text(
                "INSERT INTO workers (name, os, cores, versions, transfer, draining, "
                "registered_at, last_seen) VALUES ('old', 'x', 2, '[\"8.8\"]', 'http', 0, "
                "'2026-01-05 09:00:00', '2026-01-05 09:00:00')"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO jobs (name, submitter, priority, status, study_name, study_sha256,"
                " study_size, antares_version, mode, years, years_total, next_index, "
                "splittable, task_time_limit_s, warnings, created_at) VALUES ('j', 'alice', "
                "50, 'cancelled', 's', 'x', 1, '8.8', 'economy', '[0]', 1, 0, 1, 9e999, '[]',"
                " '2026-01-05 09:00:00')"
            )
        )
    migrate(engine)
    with engine.connect() as connection:
        limit = connection.execute(sa.text("SELECT task_time_limit_s FROM jobs")).scalar_one()
    engine.dispose()
    assert limit is None  # an infinite limit, accepted before 0003, is dropped
    clock = FakeClock()
    app = create_app(driver_settings(tmp_path / "driver", tokens=[*TOKENS, OTHER_POOL]), clock)
    with TestClient(app) as http:
        api = Api(app=app, http=http, clock=clock)
        legacy = api.client("pool-b-secret")
        legacy.worker_id = 1
        assert legacy.claim(ClaimRequest(free_cores=2, wait_s=0)) is None  # no owner yet
        legacy.register_worker(WorkerRegistration(name="old", cores=2, os="x", versions=["8.8"]))
        assert legacy.worker_id == 1
        impostor = api.client("worker-secret")
        impostor.worker_id = 1
        with pytest.raises(ClientError) as refused:
            impostor.claim(ClaimRequest(free_cores=2, wait_s=0))
        assert refused.value.status_code == 403

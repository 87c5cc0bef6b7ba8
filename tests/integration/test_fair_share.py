"""Issue 18's fair share for real: a `winjobs driver` on loopback, claimed from over HTTP.

alice floods the queue with three jobs, then bob submits one, all of priority 50. The
first worker to claim gets alice's first job (first come, nobody used anything); from
then on alice uses the pool and bob does not, so the second worker gets bob's job,
before alice's other two (strictly first come first served, it would get alice's:
`test_store_fairshare` compares the two orders, in the store). The
workers are the worker protocol's own client (`DriverClient`), as a `winjobs worker`
claims: a real worker process would only add its solver's seconds to the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.harness import (
    ADMIN_TOKEN,
    WORKER_TOKEN,
    cluster,
    make_study,
    submit,
)
from winjobs.client import DriverClient
from winjobs.wire import ClaimRequest, WorkerRegistration

pytestmark = pytest.mark.slow

ALICE, BOB = "alice-secret", "bob-secret"
TOKENS = [
    {"name": "alice", "role": "user", "token": ALICE},
    {"name": "bob", "role": "user", "token": BOB},
    {"name": "ops", "role": "admin", "token": ADMIN_TOKEN},
    {"name": "pool", "role": "worker", "token": WORKER_TOKEN},
]


def _claimed_job(url: str, name: str) -> int:
    """The job a new 2-core worker called `name` gets at its first claim."""
    with DriverClient.connect(url, WORKER_TOKEN) as worker:
        worker.register_worker(
            WorkerRegistration(name=name, cores=2, os="Linux-test", versions=["8.8"])
        )
        task = worker.claim(ClaimRequest(free_cores=2, wait_s=0))
    assert task is not None, f"{name} got no task"
    return task.job_id


def test_bob_is_served_before_alice_s_flood(tmp_path: Path) -> None:
    study = make_study(tmp_path, 4)
    with cluster(tmp_path, {"tokens": TOKENS}) as (driver, _):  # fair share: the default
        with DriverClient.connect(driver.url, ALICE) as alice:
            flood = [submit(alice, study, tmp_path, priority=50) for _ in range(3)]
        with DriverClient.connect(driver.url, BOB) as bob:
            bobs = submit(bob, study, tmp_path, priority=50)
            assert _claimed_job(driver.url, "pc-01") == flood[0]
            assert _claimed_job(driver.url, "pc-02") == bobs
            detail = bob.get_job(bobs)
    assert (detail.priority, detail.effective_priority) == (50, 50)  # no time to age

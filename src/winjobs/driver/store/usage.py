"""Each user's usage of the pool, kept up to date for fair share (`fairshare.Usage`).

It is written in the transaction that starts or ends one of a user's tasks, which
brings the user's row to now (`fairshare.settled`) with the cores their running tasks
hold from then on: the claim then reads one short row per user (`read_usage`), and the
order is exact at any moment in between.

On the hot path (a claim, a completion) `charge_in` adds or takes away the worker's
cores: two one-row statements, whatever the history and the number of running tasks.
The rarer changes (a failure or release, a lost lease, a cancelled or failed job, a
task taken over, a speculative copy started or ended: `store.copies`) `settle` by
counting the cores of the user's running tasks and copies again, which
also mends any drift of the running count (a worker registered again with other cores
while its task ran). On PostgreSQL two transactions of one user may write at once; the
later one wins, and the count is exact again at the user's next settle.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from winjobs.driver import fairshare
from winjobs.driver.store.writer import Tx

_SETTLE_FACTS = (
    "SELECT jobs.submitter, "
    "(SELECT coalesce(sum(workers.cores), 0) FROM tasks "
    "JOIN jobs AS mine ON mine.id = tasks.job_id "
    "JOIN workers ON workers.id = tasks.worker_id "
    "WHERE tasks.status = 'running' AND mine.submitter = jobs.submitter "
    "AND mine.status IN ('queued', 'running')) + "
    # and their speculative copies' (store.copies)
    "(SELECT coalesce(sum(workers.cores), 0) FROM task_copies "
    "JOIN tasks ON tasks.id = task_copies.task_id "
    "JOIN jobs AS theirs ON theirs.id = tasks.job_id "
    "JOIN workers ON workers.id = task_copies.worker_id "
    "WHERE task_copies.status = 'running' AND theirs.submitter = jobs.submitter "
    "AND theirs.status IN ('queued', 'running')), "
    "user_usage.core_seconds, user_usage.running_cores, user_usage.as_of "
    "FROM jobs LEFT JOIN user_usage ON user_usage.user_name = jobs.submitter "
    "WHERE jobs.id = :job"
)
_STORE = (
    "INSERT INTO user_usage (user_name, core_seconds, running_cores, as_of) "
    "VALUES (:user, :used, :cores, :as_of) ON CONFLICT (user_name) DO UPDATE SET "
    "core_seconds = excluded.core_seconds, running_cores = excluded.running_cores, "
    "as_of = excluded.as_of"
)
_READ = "SELECT user_name, core_seconds, running_cores, as_of FROM user_usage"
#: the user's row and the cores of the worker that starts or ends one of their tasks
_CHARGE_FACTS = (
    "SELECT jobs.submitter, (SELECT cores FROM workers WHERE workers.id = :worker), "
    "user_usage.core_seconds, user_usage.running_cores, user_usage.as_of "
    "FROM jobs LEFT JOIN user_usage ON user_usage.user_name = jobs.submitter "
    "WHERE jobs.id = :job"
)

Run = Callable[[str, dict[str, Any]], Any]


def charge_in(tx: Tx, job_id: int, worker_id: int, started: bool, half_life_s: float) -> None:
    """A task of the job started (`started`) or ended on this worker: its cores are the
    user's from now on, or no longer."""
    row = tx.one(_CHARGE_FACTS, {"job": job_id, "worker": worker_id})
    if row is None:
        return
    user, cores, *kept = row
    before = _usage(*kept)
    delta = int(cores or 0) * (1 if started else -1)
    _store(tx.execute, user, before, max(0, before.running_cores + delta), tx.clock(), half_life_s)


def settle_in(tx: Tx, job_id: int, half_life_s: float) -> None:
    """`settle` inside a writer transaction (the claim, the completion)."""
    _settle(tx.execute, job_id, tx.clock(), half_life_s)


def settle(conn: Connection, job_id: int, now: datetime, half_life_s: float) -> None:
    """Bring the usage of the job's submitter to `now`, with the cores their running
    tasks hold from now on."""
    _settle(
        lambda statement, params: conn.execute(text(statement), params), job_id, now, half_life_s
    )


def _settle(run: Run, job_id: int, now: datetime, half_life_s: float) -> None:
    row = run(_SETTLE_FACTS, {"job": job_id}).fetchone()
    if row is None:
        return
    user, cores, *kept = row
    _store(run, user, _usage(*kept), int(cores), now, half_life_s)


def _usage(used: Any, cores: Any, as_of: Any) -> fairshare.Usage:
    """A user's row as read (all None: the user has none yet)."""
    if as_of is None:
        return fairshare.NO_USAGE
    return fairshare.Usage(float(used), int(cores), float(as_of))


def _store(
    run: Run,
    user: str,
    before: fairshare.Usage,
    cores: int,
    now: datetime,
    half_life_s: float,
) -> None:
    after = fairshare.settled(before, cores, now.timestamp(), half_life_s)
    params = {"user": user, "used": after.core_seconds, "cores": after.running_cores}
    run(_STORE, params | {"as_of": after.at})


def read_usage(rows: Any) -> dict[str, fairshare.Usage]:
    """`_READ`'s rows by user."""
    return {
        str(user): fairshare.Usage(float(used), int(cores), float(as_of))
        for user, used, cores, as_of in rows
    }


def usage_in(tx: Tx) -> dict[str, fairshare.Usage]:
    return read_usage(tx.execute(_READ))


def usage_of(conn: Connection) -> dict[str, fairshare.Usage]:
    return read_usage(conn.execute(text(_READ)))

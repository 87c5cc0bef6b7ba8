"""Each user's usage of the pool, kept up to date for fair share (`fairshare.Usage`).

`settle` runs in the transaction that starts or ends one of a user's tasks (a claim, a
completion, a failure or release, a lost lease, a cancelled or failed job): it brings
the user's row to now (`fairshare.settled`) and counts again the cores their running
tasks hold. Two statements, whatever the history: the claim then reads one short row per
user (`read_usage`), and the order is exact at any moment in between.

The cores are counted again rather than added and subtracted: a transition this module
is not told about (none is known) would make the count wrong only until the user's next
task starts or ends. On PostgreSQL two transactions of one user may settle at once; the
later one's count wins, and it is exact again at the user's next transition.
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
    "AND mine.status IN ('queued', 'running')), "
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

Run = Callable[[str, dict[str, Any]], Any]


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
    user, cores, used, had_cores, as_of = row
    before = fairshare.NO_USAGE
    if as_of is not None:
        before = fairshare.Usage(float(used), int(had_cores), float(as_of))
    moment = now.timestamp()
    after = fairshare.settled(before, int(cores), moment, half_life_s)
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

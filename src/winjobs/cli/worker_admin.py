"""`winjobs worker-admin ACTION NAME`: an admin's hand on one worker of the pool.

`hold` keeps a worker from new tasks (its running one goes on) until an admin releases
it; `drain` does the same until the worker restarts (maintenance) or is released;
`release` lifts either (and the driver's own hold of a worker failing task after task);
`forget` leaves an offline worker out of the lists until it is seen again. Each takes the
worker's name, needs an admin token, and prints the worker as `winjobs workers` shows it
(or the API's JSON).
"""

from __future__ import annotations

from typing import Annotated

import typer

from winjobs.cli.app import app, console
from winjobs.cli.common import DebugOpt, DriverOpt, JsonOpt, TokenOpt, driver_session
from winjobs.cli.render import to_json
from winjobs.wire import WorkerInfo

worker_admin_app = typer.Typer(
    help="Admin actions on one worker (an admin token is needed): hold, drain, release, forget.",
    no_args_is_help=True,
)
app.add_typer(worker_admin_app, name="worker-admin")

WorkerNameArg = Annotated[
    str,
    typer.Argument(metavar="NAME", help="The worker's name, as `winjobs workers` lists it."),
]


@worker_admin_app.command("release")
def release(
    name: WorkerNameArg,
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Release a held or drained worker: it takes tasks again, its failures in a row
    forgotten."""
    with driver_session(driver, token) as (client, _):
        worker = client.release_worker(name)
    _answer(
        worker, as_json, f"worker {worker.name} released: it takes tasks again ({worker.state})"
    )


ReasonOpt = Annotated[
    str | None,
    typer.Option("--reason", metavar="TEXT", help="Why, in a few words (shown with its state)."),
]


@worker_admin_app.command("hold")
def hold(
    name: WorkerNameArg,
    reason: ReasonOpt = None,
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Hold a worker: its running task goes on, it takes no new one until released
    (restarts included)."""
    with driver_session(driver, token) as (client, _):
        worker = client.hold_worker(name, reason)
    _answer(
        worker, as_json, f"worker {worker.name} held: no new task until released ({worker.state})"
    )


@worker_admin_app.command("drain")
def drain(
    name: WorkerNameArg,
    reason: ReasonOpt = None,
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Drain a worker before maintenance: it finishes its task and takes no new one until
    it restarts or is released."""
    with driver_session(driver, token) as (client, _):
        worker = client.drain_worker(name, reason)
    done = "it finishes its task" if worker.current_task is not None else "it is idle"
    _answer(worker, as_json, f"worker {worker.name} draining: {done}, then takes no new task")


@worker_admin_app.command("forget")
def forget(
    name: WorkerNameArg,
    driver: DriverOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Forget an offline worker: it leaves the lists and counts until it is seen again
    (the same worker then, its history kept)."""
    with driver_session(driver, token) as (client, _):
        worker = client.forget_worker(name)
    _answer(worker, as_json, f"worker {worker.name} forgotten (it was {worker.state})")


def _answer(worker: WorkerInfo, as_json: bool, done: str) -> None:
    if as_json:
        typer.echo(to_json(worker))
    else:
        console.print(done)

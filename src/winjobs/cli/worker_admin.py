"""`winjobs worker-admin ACTION NAME`: an admin's hand on one worker of the pool.

`release` lifts a hold (a worker the driver held for failing task after task, see
`winjobs workers`). The group is where the other actions on one worker belong (drain,
hold with a reason, forget an offline worker); each takes the worker's name, needs an
admin token, and prints the worker as `winjobs workers` shows it (or the API's JSON).
"""

from __future__ import annotations

from typing import Annotated

import typer

from winjobs.cli.app import app, console
from winjobs.cli.common import DebugOpt, DriverOpt, JsonOpt, TokenOpt, driver_session
from winjobs.cli.render import to_json

worker_admin_app = typer.Typer(
    help="Admin actions on one worker (an admin token is needed): release a held worker.",
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
    """Release a held worker: it takes tasks again, its failures in a row forgotten."""
    with driver_session(driver, token) as (client, _):
        worker = client.release_worker(name)
    if as_json:
        typer.echo(to_json(worker))
    else:
        console.print(f"worker {worker.name} released: it takes tasks again ({worker.state})")

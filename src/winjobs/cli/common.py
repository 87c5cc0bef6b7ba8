"""What every user command shares: its common options and the way it reaches the driver."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from winjobs.cli.userconfig import Connection, resolve_connection
from winjobs.client import ClientError, DriverClient
from winjobs.errors import WinjobsError
from winjobs.wire import JobDetail

DriverOpt = Annotated[
    str | None,
    typer.Option(
        "--driver",
        metavar="URL",
        help="Driver URL, e.g. http://host:8000 "
        "(default: $WINJOBS_DRIVER, then 'driver' in the user config file).",
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        metavar="TOKEN",
        help="Your token (default: $WINJOBS_TOKEN, then 'token' in the user config file).",
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON on stdout instead.")
]
DebugOpt = Annotated[
    bool, typer.Option("--debug", help="Show the full traceback when the command fails.")
]
JobArg = Annotated[int, typer.Argument(metavar="JOB", help="Job id.", show_default=False)]
ParentPidOpt = Annotated[
    int | None,
    typer.Option(
        "--parent-pid",
        metavar="PID",
        min=1,
        help="Stop when process PID is gone (what `winjobs demo` and the tests use, so that "
        "their drivers and workers never outlive them).",
    ),
]


class InputError(WinjobsError):
    """A command-line value the user must correct (checked before talking to anyone)."""

    exit_code = 2


class JobNotSucceeded(WinjobsError):
    """A followed job ended failed or cancelled: scripts tell it from other errors by 3."""

    exit_code = 3

    def __init__(self, message: str, job: JobDetail | None = None) -> None:
        super().__init__(message)
        self.job = job


def check_priority(priority: int) -> int:
    if not 1 <= priority <= 100:
        raise InputError(f"priority must be between 1 and 100 (higher runs first), not {priority}")
    return priority


def make_client(connection: Connection) -> DriverClient:
    """The one place a user command builds its HTTP client (tests replace it)."""
    return DriverClient.connect(connection.driver_url, connection.token)


@contextmanager
def driver_session(
    driver: str | None, token: str | None
) -> Iterator[tuple[DriverClient, Connection]]:
    """A client for the resolved driver; errors name the setting the user should check."""
    connection = resolve_connection(driver, token)
    client = make_client(connection)
    try:
        yield client, connection
    except ClientError as exc:
        raise explain(exc, connection) from exc
    finally:
        client.close()


def explain(exc: ClientError, connection: Connection) -> ClientError:
    """Say where the refused token or the unreachable URL came from."""
    if exc.status_code is None:
        hint = f" (driver URL from {connection.driver_source})"
    elif exc.status_code == 401:
        hint = f" (token from {connection.token_source})"
    else:
        return exc
    return ClientError(f"{exc}{hint}", status_code=exc.status_code)

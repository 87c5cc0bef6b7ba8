"""`winjobs` command line: `main()` runs the Typer app and turns errors into one line."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from winjobs.cli.app import app, err_console
from winjobs.errors import WinjobsError

__all__ = ["COMMAND_MODULES", "app", "main", "register_commands"]


#: the module that registers each top-level command, in `winjobs --help`'s order
#: (`test_startup.py` checks it against what the modules register)
COMMAND_MODULES: dict[str, str] = {
    "clean": "clean",
    "demo": "demo",
    "driver": "driver_cmd",
    **dict.fromkeys(
        ("jobs", "show", "wait", "cancel", "priority", "hold", "release", "retry", "logs"),
        "jobs",
    ),
    **dict.fromkeys(("workers", "shares", "status"), "jobs"),
    "links": "links",
    "merge": "runs",
    "slurm": "slurm_cmd",
    "inspect": "study",
    "submit": "submit",
    "download": "submit",
    "worker-admin": "worker_admin",
    "worker": "worker_cmd",
}


def register_commands(argv: Sequence[str]) -> None:
    """Import the module of the command `argv` names, or all of them (`--help`, no
    command, a typo): each registers its commands on `app`. A command starts without
    the others' imports (the worker's agent, the Slurm manager, the demo's processes),
    and so does the driver's assembly process, which imports this package as its
    parent's main module."""
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    wanted = [COMMAND_MODULES[name]] if name in COMMAND_MODULES else COMMAND_MODULES.values()
    for module in dict.fromkeys(wanted):
        importlib.import_module(f"winjobs.cli.{module}")


def main() -> None:
    """Entry point of the `winjobs` console script."""
    debug = "--debug" in sys.argv[1:] or os.environ.get("WINJOBS_DEBUG") == "1"
    try:
        register_commands(sys.argv[1:])
        app(prog_name="winjobs")
    except WinjobsError as exc:
        if debug:
            traceback.print_exc()
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        err_console.print(
            f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for details)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)

"""`winjobs` command line: `main()` runs the Typer app and turns errors into one line."""

from __future__ import annotations

import os
import sys
import traceback

from winjobs.cli.app import app, err_console
from winjobs.errors import WinjobsError

__all__ = ["app", "main"]


def _register_commands() -> None:
    """Import the command modules; each registers its commands on `app`."""
    import winjobs.cli.clean
    import winjobs.cli.demo
    import winjobs.cli.driver_cmd
    import winjobs.cli.jobs
    import winjobs.cli.links
    import winjobs.cli.runs
    import winjobs.cli.slurm_cmd
    import winjobs.cli.study
    import winjobs.cli.submit
    import winjobs.cli.worker_admin
    import winjobs.cli.worker_cmd  # noqa: F401


_register_commands()


def main() -> None:
    """Entry point of the `winjobs` console script."""
    debug = "--debug" in sys.argv[1:] or os.environ.get("WINJOBS_DEBUG") == "1"
    try:
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

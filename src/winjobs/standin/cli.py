"""`winjobs-standin-solver`: the entry point, shaped like `antares-solver`'s.

`run_solver(argv, environ, stdout)` does everything and returns the exit status, so tests
can call it in-process; `main()` binds it to the real process (and leaves with
`os._exit` after a stop request, as the real solver's `exit()` from its signal handler
does, without waiting for the year threads).
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import IO

from winjobs.errors import ConfigError
from winjobs.standin import texts
from winjobs.standin.faults import faults_from_env
from winjobs.standin.log import SolverLog, use_colour
from winjobs.standin.options import UsageError, parse_command_line
from winjobs.standin.run import EXIT_FAILURE, EXIT_OK, Run
from winjobs.standin.version import posed_version


def _program(argv0: str) -> str:
    return PurePath(argv0.replace("\\", "/")).name or "winjobs-standin-solver"


def run_solver(
    argv: Sequence[str],
    environ: Mapping[str, str],
    stdout: IO[str],
    stderr: IO[str] | None = None,
) -> int:
    """Behave like `antares-solver argv[1:]`; returns the exit status."""
    errors = stderr if stderr is not None else sys.stderr
    argv0 = argv[0] if argv else "winjobs-standin-solver"
    try:
        version = posed_version(environ, argv0)
        faults = faults_from_env(environ)
        options = parse_command_line(list(argv[1:]))
    except (UsageError, ConfigError) as exc:
        errors.write(f"Error: {exc}\nTry '{_program(argv0)} --help' for more information.\n")
        errors.flush()
        return EXIT_FAILURE
    log = SolverLog(stdout, colour=use_colour(stdout, environ))
    if options.show_help:
        texts.print_help(log, _program(argv0), version)
        return EXIT_OK
    if options.show_version:
        texts.print_version(log, version)
        return EXIT_OK
    texts.print_banner(log, version)
    if options.list_solvers:
        texts.print_solvers(log)
        return EXIT_OK
    if options.refused:
        names = ", ".join(f"--{name}" for name in options.refused)
        log.fatal(f"the stand-in solver cannot imitate {names}: run the real solver for that")
        log.error("Aborting now. See logs for more details")
        return EXIT_FAILURE
    run = Run(options, version, faults, log, list(argv), errors)
    status = run.execute()
    if run.stop.is_set():
        stdout.flush()
    return status


def main() -> None:
    """Console script `winjobs-standin-solver`."""
    environ = dict(os.environ)
    argv = list(sys.argv)
    log_stdout = sys.stdout
    if isinstance(log_stdout, io.TextIOWrapper):
        # A Windows console or pipe may not encode every area name: never crash on it.
        log_stdout.reconfigure(errors="replace")
    status = run_solver(argv, environ, log_stdout)
    log_stdout.flush()
    sys.stderr.flush()
    # Like the real solver's exit(): do not wait for year threads still writing.
    os._exit(status)

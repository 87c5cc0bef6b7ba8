"""The root Typer application that every command module registers on.

Command modules (`winjobs.cli.<area>`) only parse options and call the layer that does
the work; they raise `WinjobsError` for anything the user must fix, and `main()` turns it
into one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="winjobs",
    help="Spread the Monte-Carlo years of Antares Simulator studies over many machines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

#: Normal output (tables, results) goes to stdout; messages and progress to stderr.
console = Console()
err_console = Console(stderr=True)


@app.callback()
def root(
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback when a command fails."
    ),
) -> None:
    """Spread the Monte-Carlo years of Antares Simulator studies over many machines."""
    # --debug is read by main() before Typer runs; declared here so --help shows it.

"""The root Typer application that every command module registers on.

Command modules (`winjobs.cli.<area>`) only parse options and call the layer that does
the work; they raise `WinjobsError` for anything the user must fix, and `main()` turns it
into one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

from typing import Any

import typer
import typer.core
from rich.console import Console, ConsoleDimensions


def _no_type_for_flags() -> None:
    """Typer's Rich help (0.2x) shows an on/off flag as `--wait <bool>`, as if it took a
    value: show flags bare (`--wait`), like click's own help does. Applied once, here,
    because every command's options (and `--help`) are built by Typer itself."""
    show_type = typer.core.TyperOption.display_type_rich

    def display_type_rich(self: typer.core.TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else show_type(self, ctx)

    typer.core.TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_no_type_for_flags()

app = typer.Typer(
    name="winjobs",
    help="Spread the Monte-Carlo years of Antares Simulator studies over many machines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class DataConsole(Console):
    """stdout for data (tables, paths): never wrapped when it is not a terminal.

    Rich takes a terminal's width from stdin or stderr when stdout is a pipe, or from
    `COLUMNS`, else 80: `winjobs download 2 DIR | cat` split the path over two lines and
    `winjobs jobs > jobs.txt` wrapped the names. A pipe or a file gets each line whole;
    a terminal still gets tables that fit it.
    """

    #: wide enough for any line we print (paths, tables); tables take only what they need
    UNWRAPPED = 1_000_000

    @property
    def size(self) -> ConsoleDimensions:
        dimensions = super().size
        if self.is_terminal:
            return dimensions
        return ConsoleDimensions(self.UNWRAPPED, dimensions.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


#: Normal output (tables, results) goes to stdout; messages and progress to stderr.
console = DataConsole()
err_console = Console(stderr=True)


@app.callback()
def root(
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback when a command fails."
    ),
) -> None:
    """Spread the Monte-Carlo years of Antares Simulator studies over many machines."""
    # --debug is read by main() before Typer runs; declared here so --help shows it.

"""The real solver's command line, parsed the way its option parser does.

Every option of `antares-solver --help` (8.8 and 9.x) is known, so a worker built for
the real binary can pass whatever it passes; each one is either honoured or accepted
without effect (see `OPTIONS`). Anything else is an error: exit status 1 and one line
that says which option, like the real parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path


class Effect(Enum):
    """What the stand-in does with an option (printed in `--help`)."""

    HONOURED = "honoured"
    IGNORED = "accepted, no effect on the synthetic run"
    REFUSED = "refused: the stand-in cannot imitate it"


@dataclass(frozen=True)
class OptionSpec:
    long: str
    short: str | None
    value: str | None  # name of the value in --help, None for a flag
    help: str
    effect: Effect
    section: str


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("input", "i", "STUDY", "Study folder", Effect.HONOURED, "Simulation"),
    OptionSpec(
        "expansion",
        None,
        None,
        "Force the simulation in expansion mode",
        Effect.HONOURED,
        "Simulation",
    ),
    OptionSpec(
        "economy", None, None, "Force the simulation in economy mode", Effect.HONOURED, "Simulation"
    ),
    OptionSpec(
        "adequacy",
        None,
        None,
        "Force the simulation in adequacy mode",
        Effect.HONOURED,
        "Simulation",
    ),
    OptionSpec(
        "parallel",
        None,
        None,
        "Enable the parallel computation of MC years",
        Effect.HONOURED,
        "Simulation",
    ),
    OptionSpec(
        "force-parallel",
        None,
        "VALUE",
        "Override the max number of years computed simultaneously",
        Effect.HONOURED,
        "Simulation",
    ),
    OptionSpec(
        "use-ortools",
        None,
        None,
        "Use ortools library to launch solver",
        Effect.IGNORED,
        "Simulation",
    ),
    OptionSpec(
        "ortools-solver",
        None,
        "VALUE",
        "Ortools solver used for simulation",
        Effect.IGNORED,
        "Simulation",
    ),
    OptionSpec(
        "solver", None, "VALUE", "Solver used for simulation (9.2+)", Effect.IGNORED, "Simulation"
    ),
    OptionSpec(
        "name",
        "n",
        "VALUE",
        "Set the name of the new simulation to VALUE",
        Effect.HONOURED,
        "Parameters",
    ),
    OptionSpec(
        "generators-only",
        "g",
        None,
        "Run the time-series generators only",
        Effect.REFUSED,
        "Parameters",
    ),
    OptionSpec(
        "comment-file",
        "c",
        "VALUE",
        "Specify the file to copy as comments of the simulation",
        Effect.HONOURED,
        "Parameters",
    ),
    OptionSpec("force", "f", None, "Ignore all warnings at loading", Effect.IGNORED, "Parameters"),
    OptionSpec(
        "no-output",
        None,
        None,
        "Do not write the results in the output folder",
        Effect.HONOURED,
        "Parameters",
    ),
    OptionSpec(
        "year", "y", "VALUE", "Override the number of MC years", Effect.HONOURED, "Parameters"
    ),
    OptionSpec(
        "year-by-year",
        None,
        None,
        "Force the writing the result output for each year (economy only)",
        Effect.HONOURED,
        "Parameters",
    ),
    OptionSpec("derated", None, None, "Force the derated mode", Effect.IGNORED, "Parameters"),
    OptionSpec(
        "zip-output",
        "z",
        None,
        "Force the write output into a single zip archive",
        Effect.HONOURED,
        "Parameters",
    ),
    OptionSpec(
        "optimization-range",
        None,
        "VALUE",
        "Force the simplex optimization range ('day' or 'week')",
        Effect.IGNORED,
        "Optimization",
    ),
    OptionSpec(
        "no-constraints", None, None, "Ignore all constraints", Effect.IGNORED, "Optimization"
    ),
    OptionSpec(
        "no-ts-import",
        None,
        None,
        "Do not import timeseries into the input folder",
        Effect.IGNORED,
        "Optimization",
    ),
    OptionSpec(
        "mps-export",
        "m",
        None,
        "Export in the mps (anonymous) format the optimization problems (both optim).",
        Effect.HONOURED,
        "Optimization",
    ),
    OptionSpec(
        "named-mps-problems",
        "s",
        None,
        "Export named constraints and variables in mps (both optim).",
        Effect.IGNORED,
        "Optimization",
    ),
    OptionSpec("solver-logs", None, None, "Print solver logs.", Effect.IGNORED, "Optimization"),
    OptionSpec(
        "progress", None, None, "Display the progress of each task", Effect.IGNORED, "Misc."
    ),
    OptionSpec(
        "pid",
        "p",
        "VALUE",
        "Specify the file where to write the process ID",
        Effect.HONOURED,
        "Misc.",
    ),
    OptionSpec(
        "list-solvers",
        "l",
        None,
        "List available OR-Tools solvers, then exit.",
        Effect.HONOURED,
        "Misc.",
    ),
    OptionSpec(
        "version",
        "v",
        None,
        "Print the version of antares-solver and exit",
        Effect.HONOURED,
        "Misc.",
    ),
    OptionSpec("help", "h", None, "Display this help and exit", Effect.HONOURED, "Misc."),
)

_BY_LONG = {spec.long: spec for spec in OPTIONS}
_BY_SHORT = {spec.short: spec for spec in OPTIONS if spec.short is not None}


class UsageError(Exception):
    """The command line cannot be understood; the message names the culprit."""


@dataclass
class SolverOptions:
    """The command line, decoded. `given` keeps every option seen, for the log."""

    study: Path | None = None
    name: str | None = None
    force_parallel: int | None = None
    parallel: bool = False
    year_by_year: bool = False
    zip_output: bool = False
    no_output: bool = False
    nbyears: int | None = None
    mode: str | None = None
    comment_file: Path | None = None
    pid_file: Path | None = None
    show_version: bool = False
    show_help: bool = False
    list_solvers: bool = False
    refused: list[str] = field(default_factory=list)
    given: list[str] = field(default_factory=list)


def _positive_int(option: str, text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise UsageError(f"invalid value for '--{option}': {text!r} (expected an integer >= 1)")
    return number


def _apply(options: SolverOptions, spec: OptionSpec, value: str | None) -> None:
    options.given.append(spec.long)
    if spec.effect is Effect.REFUSED:
        options.refused.append(spec.long)
        return
    assert (value is None) == (spec.value is None)
    match spec.long:
        case "input":
            options.study = Path(str(value))
        case "name":
            options.name = value
        case "force-parallel":
            options.force_parallel = _positive_int(spec.long, str(value))
        case "parallel":
            options.parallel = True
        case "year-by-year":
            options.year_by_year = True
        case "zip-output":
            options.zip_output = True
        case "no-output":
            options.no_output = True
        case "year":
            options.nbyears = _positive_int(spec.long, str(value))
        case "economy" | "adequacy" | "expansion":
            options.mode = spec.long
        case "comment-file":
            options.comment_file = Path(str(value))
        case "pid":
            options.pid_file = Path(str(value))
        case "version":
            options.show_version = True
        case "help":
            options.show_help = True
        case "list-solvers":
            options.list_solvers = True
        case _:
            pass  # Effect.IGNORED


def _take_value(spec: OptionSpec, inline: str | None, rest: list[str], shown: str) -> str:
    if inline is not None:
        return inline
    if not rest:
        raise UsageError(f"the option '{shown}' requires a value")
    return rest.pop(0)


def parse_command_line(argv: list[str]) -> SolverOptions:
    """argv without the program name -> options; the study may be the last bare argument."""
    options = SolverOptions()
    positional: list[str] = []
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            positional.extend(rest)
            break
        if arg.startswith("--"):
            key, sep, inline = arg[2:].partition("=")
            spec = _BY_LONG.get(key)
            if spec is None:
                raise UsageError(f"unknown option '--{key}'")
            if spec.value is None:
                if sep:
                    raise UsageError(f"the option '--{key}' takes no value")
                _apply(options, spec, None)
            else:
                _apply(options, spec, _take_value(spec, inline if sep else None, rest, arg))
        elif arg.startswith("-") and len(arg) > 1:
            spec = _BY_SHORT.get(arg[1])
            if spec is None:
                raise UsageError(f"unknown option '-{arg[1]}'")
            attached = arg[2:].removeprefix("=") or None
            if spec.value is None:
                if attached is not None:
                    raise UsageError(f"the option '-{arg[1]}' takes no value")
                _apply(options, spec, None)
            else:
                _apply(options, spec, _take_value(spec, attached, rest, arg))
        else:
            positional.append(arg)
    if options.study is None and positional:
        options.study = Path(positional[-1])
    if options.parallel and options.force_parallel is not None:
        raise UsageError("the options '--parallel' and '--force-parallel' are incompatible")
    return options

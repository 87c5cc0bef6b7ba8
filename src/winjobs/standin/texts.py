"""What the stand-in prints before any run: banner, `--help`, `-v`, `--list-solvers`.

Shaped like the real solver's screens (banner lines tagged `[noname][infos]`, the usage
line, option sections, last line of `-v` = `8.8.10 (revision )`), but saying plainly that
this program is a stand-in producing synthetic numbers, so nobody mistakes its output for
Antares results.
"""

from __future__ import annotations

from winjobs.standin.faults import FAULT_ENV_HELP
from winjobs.standin.log import SolverLog
from winjobs.standin.options import OPTIONS, Effect
from winjobs.standin.version import VERSION_ENV, PosedVersion

STANDIN_NOTICE = (
    "winjobs-standin-solver: a STAND-IN for the Antares Simulator solver. "
    "It writes real-format output filled with SYNTHETIC numbers, not Antares results."
)

_BANNER = (
    "",
    "   +--------------------------------------------------------------+",
    "   |  winjobs stand-in solver                                     |",
    "   |  speaks antares-solver's command line and output format;     |",
    "   |  every number it writes is synthetic (deterministic per      |",
    "   |  study input, mode, year, variable and cell).                |",
    "   +--------------------------------------------------------------+",
    "",
)


def print_banner(log: SolverLog, version: PosedVersion) -> None:
    """The `[noname]` block every invocation starts with (the real one prints a logo)."""
    log.banner("\n".join(_BANNER))
    log.banner(f"{STANDIN_NOTICE} Posing as Antares Solver v{version.text}.")
    log.raw("")


def print_version(log: SolverLog, version: PosedVersion) -> None:
    print_banner(log, version)
    log.raw(f"{version.text} (revision )")


def print_solvers(log: SolverLog) -> None:
    log.raw("Available linear solvers: sirius (stand-in: no solver is ever called)")


def help_text(program: str, version: PosedVersion) -> str:
    """The `--help` screen: real options by section, then the stand-in's own knobs."""
    lines = [
        f"Usage: {program} [OPTION]... [FILE]...",
        f"Antares Solver v{version.text} (RTE France) -- winjobs STAND-IN, synthetic numbers",
        "",
    ]
    section = ""
    for spec in OPTIONS:
        if spec.section != section:
            if section:
                lines.append("")
            section = spec.section
            lines.append(section)
        short = f"-{spec.short}, " if spec.short else "    "
        long = f"--{spec.long}" + (f"={spec.value}" if spec.value else "")
        note = "" if spec.effect is Effect.HONOURED else f" [{spec.effect.value}]"
        lines.append(f"  {short}{long:<24} {spec.help}{note}")
    lines += [
        "",
        "Stand-in (environment variables; the real solver has none of these)",
        f"  {VERSION_ENV:<34} version to pose as (default: from the executable name",
        f"  {'':<34} antares-X.Y-solver, else 8.8.10)",
        *(f"  {name:<34} {text}" for name, text in FAULT_ENV_HELP),
        "",
        "Numbers are a deterministic function of the files under STUDY/input, the mode,",
        "the year, the variable and the cell: a year run alone equals that year in a full run.",
    ]
    return "\n".join(lines)


def print_help(log: SolverLog, program: str, version: PosedVersion) -> None:
    print_banner(log, version)
    log.raw(help_text(program, version))

"""Timing and fault injection, configured by environment variables.

The worker must survive every way a real solver run ends badly: a failed year (exit 1,
partial output, `[fatal]`), a crash before any output, a hang it has to kill, and the
deceptive exit status 0 with partial output that the real solver gives on SIGTERM. These
knobs let integration tests and the demo produce each one on demand; the environment
is the only channel that passes untouched through the worker to the solver process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from winjobs.errors import ConfigError

SECONDS_ENV = "WINJOBS_STANDIN_SECONDS_PER_YEAR"
FAIL_YEAR_ENV = "WINJOBS_STANDIN_FAIL_YEAR"
CRASH_ENV = "WINJOBS_STANDIN_CRASH"
HANG_ENV = "WINJOBS_STANDIN_HANG"
PARTIAL_ENV = "WINJOBS_STANDIN_PARTIAL_EXIT0"

DEFAULT_SECONDS_PER_YEAR = 0.05
CRASH_EXIT_STATUS = 139  # what a shell reports for a segmentation fault

FAULT_ENV_HELP: tuple[tuple[str, str], ...] = (
    (SECONDS_ENV, f"seconds each MC year takes (default {DEFAULT_SECONDS_PER_YEAR}); or a"),
    ("", "comma-separated list: 0-based year y takes item y % length (uneven years)"),
    (FAIL_YEAR_ENV, "0-based year that fails (if played): exit 1, partial output without"),
    ("", "execution_info.ini, a [fatal] line, like an infeasible problem"),
    (CRASH_ENV, f"=1: crash while loading the study: exit {CRASH_EXIT_STATUS}, no run folder"),
    (HANG_ENV, "=1: hang forever once the first years started (SIGTERM is ignored:"),
    ("", "kill the process)"),
    (PARTIAL_ENV, "=K: after K finished years, stop and exit 0 with partial output, as"),
    ("", "the real solver does on SIGTERM/SIGINT (and CTRL_BREAK on Windows)"),
    ("WINJOBS_STANDIN_COLOR", "always|never: ANSI colours in stdout (default: on a terminal)"),
)


@dataclass(frozen=True)
class Faults:
    """The injected behaviour of one run (all off by default)."""

    seconds_per_year: float = DEFAULT_SECONDS_PER_YEAR
    #: uneven years (benchmarks): year y takes `seconds_cycle[y % len]`; empty: all equal
    seconds_cycle: tuple[float, ...] = ()
    fail_year: int | None = None
    crash: bool = False
    hang: bool = False
    partial_after: int | None = None

    def seconds_for(self, year: int) -> float:
        """How long 0-based MC year `year` takes."""
        if self.seconds_cycle:
            return self.seconds_cycle[year % len(self.seconds_cycle)]
        return self.seconds_per_year


def _flag(environ: Mapping[str, str], name: str) -> bool:
    value = environ.get(name, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ConfigError(f"{name}={value!r}: use 1 to switch it on (or 0/empty for off)")


def _count(environ: Mapping[str, str], name: str) -> int | None:
    value = environ.get(name, "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ConfigError(f"{name}={value!r}: expected an integer >= 0")
    return number


def _seconds(environ: Mapping[str, str]) -> tuple[float, ...]:
    value = environ.get(SECONDS_ENV, "").strip()
    if not value:
        return (DEFAULT_SECONDS_PER_YEAR,)
    try:
        seconds = tuple(float(item) for item in value.split(","))
    except ValueError:
        seconds = (-1.0,)
    if not all(item >= 0 for item in seconds):
        raise ConfigError(
            f"{SECONDS_ENV}={value!r}: expected a number of seconds >= 0 "
            "(or a comma-separated list of them, one per year)"
        )
    return seconds


def faults_from_env(environ: Mapping[str, str]) -> Faults:
    """Read every knob; a malformed value is an error, never silently ignored."""
    seconds = _seconds(environ)
    return Faults(
        seconds_per_year=seconds[0],
        seconds_cycle=seconds if len(seconds) > 1 else (),
        fail_year=_count(environ, FAIL_YEAR_ENV),
        crash=_flag(environ, CRASH_ENV),
        hang=_flag(environ, HANG_ENV),
        partial_after=_count(environ, PARTIAL_ENV),
    )

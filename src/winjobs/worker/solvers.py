"""Check the configured solvers before the worker takes any work.

A wrong path or a binary of another version must stop the worker at start-up with a
message the operator can act on; found inside a task it would fail somebody's job.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from winjobs.antares.output import strip_ansi
from winjobs.errors import ConfigError

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?\b")

#: `-v` of the real solver loads nothing; a minute covers a cold network drive.
VERSION_CHECK_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Solver:
    """A solver executable that answered `-v` with the version it is configured for."""

    version: str  #: the configured key, "8.8"
    path: Path
    reported: str  #: what `-v` printed, "8.8.10"


def parse_version(output: str) -> str | None:
    """The version on the last non-empty line of `-v` output ("8.8.10 (revision )")."""
    lines = [strip_ansi(line).strip() for line in output.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return None
    match = _VERSION.match(lines[-1])
    if match is None:
        return None
    return ".".join(part for part in match.groups() if part is not None)


def _resolve(path: Path) -> Path | None:
    if path.is_file():
        return path.resolve()
    found = shutil.which(str(path))  # a bare command name on PATH (PATHEXT on Windows)
    return Path(found).resolve() if found else None


def check_solver(version: str, path: Path, timeout_s: float = VERSION_CHECK_TIMEOUT_S) -> Solver:
    """Run `path -v` and confirm it is a solver of `version`; `ConfigError` otherwise."""
    where = f"solver {version} ({path})"
    executable = _resolve(path)
    if executable is None:
        raise ConfigError(f"{where}: no such file")
    try:
        result = subprocess.run(
            [str(executable), "-v"],
            capture_output=True,
            text=True,
            errors="replace",
            stdin=subprocess.DEVNULL,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(f"{where}: `-v` did not answer within {timeout_s:.0f} s") from exc
    except OSError as exc:
        raise ConfigError(f"{where}: cannot run it: {exc.strerror or exc}") from exc
    output = result.stdout + "\n" + result.stderr
    if result.returncode != 0:
        tail = " | ".join(output.strip().splitlines()[-3:])
        raise ConfigError(f"{where}: `-v` exited with status {result.returncode}: {tail}")
    reported = parse_version(result.stdout) or parse_version(output)
    if reported is None:
        raise ConfigError(f"{where}: `-v` printed no version on its last line")
    if ".".join(reported.split(".")[:2]) != version:
        raise ConfigError(f"{where} is version {reported}, not {version}: fix the solvers map")
    return Solver(version=version, path=executable, reported=reported)


def check_solvers(
    configured: Mapping[str, Path], timeout_s: float = VERSION_CHECK_TIMEOUT_S
) -> dict[str, Solver]:
    """Check every configured solver; one `ConfigError` listing every bad one."""
    solvers: dict[str, Solver] = {}
    problems: list[str] = []
    for version, path in sorted(configured.items()):
        try:
            solvers[version] = check_solver(version, path, timeout_s)
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("; ".join(problems))
    return solvers


def config_fingerprint(cores: int, solvers: Mapping[str, Solver]) -> str:
    """sha256 of what this worker runs tasks with: its cores and, per solver, the version,
    the executable's path, what `-v` said, and the file's size and modification time (a
    reinstalled solver is a change). The driver releases a held worker that registers
    with another fingerprint: its operator changed something."""
    described: list[dict[str, object]] = []
    for version, solver in sorted(solvers.items()):
        entry: dict[str, object] = {
            "version": version,
            "path": str(solver.path),
            "reported": solver.reported,
        }
        try:
            stat = solver.path.stat()
            entry.update(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
        except OSError:
            entry.update(size=None, mtime_ns=None)
        described.append(entry)
    text = json.dumps({"cores": cores, "solvers": described}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

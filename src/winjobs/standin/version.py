"""Which Antares version the stand-in poses as.

Tests and the demo need a "9.2 solver" as much as an "8.8 solver" (the worker checks that
the solver's version can run the study), so the posed version is chosen from outside,
the way a real installation is recognised: `WINJOBS_STANDIN_VERSION`, else the executable
name (`antares-9.2-solver` like the real 8.8/9.0 binaries), else 8.8.10 — the version
whose real runs are the golden files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath

from winjobs.errors import ConfigError

VERSION_ENV = "WINJOBS_STANDIN_VERSION"
DEFAULT_VERSION = "8.8.10"

_VERSION_TEXT = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?\s*$")
_EXECUTABLE_NAME = re.compile(r"^antares-(\d+)\.(\d+)-solver(?:\.exe)?$", re.IGNORECASE)


@dataclass(frozen=True)
class PosedVersion:
    """A solver version: `8.8.10` prints as the real `-v` does and names study formats."""

    major: int
    minor: int
    patch: int

    @property
    def text(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def format_version(self) -> str:
        """The study/output format version: `880` before 9.0, `9.2` from 9.0 on."""
        if self.major < 9:
            return f"{self.major}{self.minor}0"
        return f"{self.major}.{self.minor}"

    @property
    def executable_name(self) -> str:
        """The real binary's name for this version (usage line of `--help`)."""
        if (self.major, self.minor) < (9, 1):
            return f"antares-{self.major}.{self.minor}-solver"
        return "antares-solver"


def parse_version(text: str) -> PosedVersion:
    """`8.8`, `8.8.10`, `9.2` -> a version; a missing patch is 10 for 8.8 (the golden runs)."""
    match = _VERSION_TEXT.match(text)
    if match is None:
        raise ConfigError(
            f"{VERSION_ENV}={text!r} is not a version: use MAJOR.MINOR or MAJOR.MINOR.PATCH "
            "(for example 8.8 or 9.2.0)"
        )
    major, minor = int(match.group(1)), int(match.group(2))
    if match.group(3) is not None:
        patch = int(match.group(3))
    else:
        patch = 10 if (major, minor) == (8, 8) else 0
    return PosedVersion(major, minor, patch)


def posed_version(environ: Mapping[str, str], argv0: str) -> PosedVersion:
    """The version to pose as: environment, then executable name, then 8.8.10."""
    from_env = environ.get(VERSION_ENV, "").strip()
    if from_env:
        return parse_version(from_env)
    match = _EXECUTABLE_NAME.match(PurePath(argv0.replace("\\", "/")).name)
    if match is not None:
        return parse_version(f"{match.group(1)}.{match.group(2)}")
    return parse_version(DEFAULT_VERSION)

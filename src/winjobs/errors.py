"""Exceptions shared by every layer.

They live in one dependency-free module so that the pure `winjobs.antares` layer can raise
them and the CLI and the driver can turn them into one readable line or an HTTP 4xx
without knowing where they came from.
"""

from __future__ import annotations


class WinjobsError(Exception):
    """Base of every error this package raises on purpose; its message is for the user.

    `exit_code` is the status the CLI exits with when this error reaches it.
    """

    exit_code: int = 1


class StudyError(WinjobsError):
    """A study folder (or its packed copy) is not a valid Antares study for winjobs.

    `problems` lists every problem found, one line each, so a user fixes them in one go.
    """

    exit_code = 2

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class IniError(WinjobsError):
    """An Antares INI file cannot be parsed."""


class ArchiveError(WinjobsError):
    """An archive is unsafe (path traversal, links, zip bomb) or damaged."""


class OutputError(WinjobsError):
    """A solver run folder is missing, incomplete or failed."""


class MergeError(WinjobsError):
    """Partial runs cannot be merged into one (different studies, overlapping years...)."""


class ConfigError(WinjobsError):
    """A configuration file or environment variable is invalid."""

    exit_code = 2

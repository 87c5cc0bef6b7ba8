"""Shared mode on the worker: paths the driver sends, paths the driver is sent back.

The driver speaks in paths as IT reaches them (`C:\\links\\DRIVER_D\\winjobs\\studies\\...`).
With the original tool's links (`winjobs links setup-remote`) the same path works on every
Windows machine; a Linux worker, or a machine whose links differ, maps prefixes with its
`path_map` (`C:\\links\\DRIVER_D` -> `/mnt/driver_d`). The other way round, the worker's
task folders live in its shared output folder (`shared_output_dir`, a local path), and
it reports run folders under `shared_output_root`, the same folder as the driver
reaches it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from winjobs.antares.unpack import unpack_archive
from winjobs.wire import TaskAssignment
from winjobs.worker.staging import StagingError

_SEPARATORS = re.compile(r"[\\/]+")


class SharedPathError(StagingError):
    """A shared path the driver sent cannot be read here: the worker's set-up (links,
    mounts, path_map) is at fault, not the task."""


def windows_style(path: str) -> bool:
    """`C:\\x`, `\\\\host\\share\\x`: a path of a Windows machine (case-insensitive)."""
    return "\\" in path or bool(re.match(r"^[A-Za-z]:", path))


def _components(path: str) -> list[str]:
    """Path components, separator-agnostic; an absolute path keeps a leading ''."""
    parts = _SEPARATORS.split(path.strip())
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return parts


def map_path(path: str, path_map: Mapping[str, str]) -> str:
    """`path` with its longest matching prefix replaced by this machine's equivalent.

    Prefixes match whole components, case-insensitively for Windows-style prefixes; the
    rest of the path is joined with this machine's separator. No match: unchanged.
    """
    parts = _components(path)
    best: tuple[int, str] | None = None
    for prefix, local in path_map.items():
        wanted = _components(prefix)
        fold = windows_style(prefix)
        if len(wanted) > len(parts):
            continue
        if all(
            (a.lower() == b.lower()) if fold else (a == b)
            for a, b in zip(wanted, parts, strict=False)
        ) and (best is None or len(wanted) > best[0]):
            best = (len(wanted), local)
    if best is None:
        return path
    return str(Path(best[1]).joinpath(*parts[best[0] :]))


def local_path(path: str, path_map: Mapping[str, str], windows_here: bool) -> Path:
    """A path the driver sent, as this machine reads it; SharedPathError if a Windows
    path reaches a non-Windows machine unmapped (it would be read as a relative name)."""
    mapped = map_path(path, path_map)
    if mapped == path and windows_style(path) and not windows_here:
        raise SharedPathError(
            f"the driver sent the Windows path {path}: add a `path_map` entry to this "
            "worker's config that maps its prefix to where this machine mounts it, e.g. "
            "'C:\\links\\DRIVER_D': /mnt/driver_d"
        )
    return Path(mapped)


def shared_archive(
    assignment: TaskAssignment, path_map: Mapping[str, str], windows_here: bool
) -> Path:
    """The study archive on the driver's shared folder, checked for its size (the driver
    writes it aside and renames it, so a right size means a whole file)."""
    sent = assignment.shared_archive_path
    if not sent:
        raise SharedPathError("a shared-mode task came without shared_archive_path")
    archive = local_path(sent, path_map, windows_here)
    try:
        size = archive.stat().st_size
    except OSError as exc:
        mapped = "" if str(archive) == sent else f" (driver path {sent})"
        raise SharedPathError(
            f"cannot read the study archive at {archive}{mapped}: {exc.strerror or exc}; "
            "check that the driver's share is reachable and the links or path_map"
        ) from None
    if size != assignment.study_size:
        raise SharedPathError(
            f"the study archive at {archive} has {size} bytes, the driver announced "
            f"{assignment.study_size}: a different file under that path?"
        )
    return archive


@dataclass(frozen=True)
class SharedOutput:
    """This worker's shared output folder: as it is here, and as the driver reaches it."""

    local_dir: Path
    driver_root: str

    def driver_path(self, local: Path) -> str:
        """Where the driver reaches `local` (a path inside `local_dir`)."""
        relative = local.relative_to(self.local_dir).parts
        separator = "\\" if windows_style(self.driver_root) else "/"
        return separator.join([self.driver_root.rstrip("\\/"), *relative])


def unzipped_run(run: Path) -> Path:
    """A run the solver zipped (`-z`) as a folder next to it: the driver links and reads
    folders. The zip is removed once unpacked."""
    if run.is_dir():
        return run
    folder = run.with_suffix("")
    unpack_archive(run, folder)
    run.unlink()
    return folder

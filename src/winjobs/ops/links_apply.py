"""Carry out the steps of `winjobs.ops.links` on this machine (Windows), or find its facts.

Kept apart from the pure step builders: everything here touches the machine (disks,
privileges, links, `net share`), and the callers inject it so tests can fake it.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from winjobs.errors import WinjobsError
from winjobs.ops.links import LocalDisk, Platform, Step

#: Windows' "A required privilege is not held by the client" (ERROR_PRIVILEGE_NOT_HELD).
ERROR_PRIVILEGE_NOT_HELD = 1314

SYMLINK_PRIVILEGE_HELP = (
    "on Windows, directory symbolic links need the 'Create symbolic links' right "
    "(SeCreateSymbolicLinkPrivilege): run as administrator, or turn on Developer Mode "
    "(Settings > Privacy & security > For developers), or have an administrator grant the "
    "right to this account (secpol.msc > Local Policies > User Rights Assignment)"
)
#: Linux file systems that are not disks of their own.
_VIRTUAL_FS = frozenset({"squashfs", "tmpfs", "overlay", "devtmpfs", "proc", "sysfs", "efivarfs"})


class LinksError(WinjobsError):
    """A link or share could not be made."""


def this_platform() -> Platform:
    return Platform.WINDOWS if sys.platform == "win32" else Platform.LINUX


def fixed_disks(platform: Platform) -> list[LocalDisk]:
    """This machine's fixed disks: drive letters (Windows; no removable, CD or network
    drives), or the mount points of real block devices (Linux)."""
    disks: list[LocalDisk] = []
    seen: set[str] = set()
    for part in psutil.disk_partitions(all=False):
        if platform is Platform.WINDOWS:
            if "fixed" not in part.opts.split(","):
                continue
            name = part.device[:1].upper()
        else:
            if not part.device.startswith("/dev/") or part.fstype in _VIRTUAL_FS:
                continue
            if part.device.startswith("/dev/loop"):
                continue
            name = part.mountpoint.strip("/").replace("/", "_") or "root"
        if name and name not in seen:
            seen.add(name)
            disks.append(LocalDisk(name=name, path=part.mountpoint))
    return disks


def is_admin() -> bool:
    """Windows: the process runs elevated (as administrator). Elsewhere: root."""
    if sys.platform == "win32":
        try:
            return bool(ctypes.windll.shell32.IsUserAnAdmin())  # type: ignore[attr-defined,unused-ignore]
        except (AttributeError, OSError):
            return False
    return hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass(frozen=True)
class Outcome:
    step: Step
    done: bool  #: False: it was already in place
    note: str = ""


Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def make_link(link: Path, target: str) -> bool:
    """A directory symbolic link; False if the same link is already there.

    Raises LinksError if something else is at `link`, or naming the privilege fix.
    """
    if link.is_symlink():
        current = str(link.readlink())
        if os.path.normcase(current.rstrip("\\/")) == os.path.normcase(target.rstrip("\\/")):
            return False
        raise LinksError(f"{link} already links to {current}, not {target}: remove it first")
    if link.exists():
        raise LinksError(f"{link} already exists and is not a link: move it away first")
    link.parent.mkdir(parents=True, exist_ok=True)
    try:
        link.symlink_to(target, target_is_directory=True)
    except OSError as exc:
        if getattr(exc, "winerror", None) == ERROR_PRIVILEGE_NOT_HELD:
            raise LinksError(f"cannot create {link}: {SYMLINK_PRIVILEGE_HELP}") from None
        raise LinksError(f"cannot create {link} -> {target}: {exc.strerror or exc}") from None
    return True


def apply_steps(steps: list[Step], run: Runner = _run) -> list[Outcome]:
    """Carry out the steps in order; stops at the first failure (LinksError)."""
    outcomes = []
    for step in steps:
        if step.link is not None and step.target is not None:
            made = make_link(Path(step.link), step.target)
            outcomes.append(Outcome(step, made, "" if made else "already there"))
            continue
        if step.check is not None and run(list(step.check)).returncode == 0:
            outcomes.append(Outcome(step, False, "already there"))
            continue
        result = run(list(step.argv))
        if result.returncode != 0:
            output = (result.stderr or result.stdout).strip().splitlines()
            why = output[-1] if output else f"exit status {result.returncode}"
            raise LinksError(f"{step.what} failed: {why}")
        outcomes.append(Outcome(step, True))
    return outcomes

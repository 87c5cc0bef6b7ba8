"""The machine set-up of shared mode: symbolic links and shares, as plain data.

The original tool's scripts made every machine reach every other machine's disks under
the SAME path: on each machine, `C:\\links\\drives\\<X>` links to drive `X:\\` and is
shared as `<X>`; and `C:\\links\\<HOST>_<SHARE>` links to `\\\\HOST\\SHARE`. Then a path such
as `C:\\links\\PC1_D\\winjobs\\out\\...` means the same folder on the driver and on every
worker, which is what shared mode hands around.

Unlike the original, `setup-local` shares only the data folders winjobs needs (the
driver's `shared_root`, a worker's `shared_output_dir`), to the accounts the operator
names, read-only unless an account must write through the share; whole drives only on an
explicit `--whole-drives`.

This module only builds the steps (the command lines and links to make) for a platform,
so that both platforms' command lines are unit-tested on any machine; `links_apply`
carries them out on Windows. On Linux the equivalents (Samba share, CIFS mount, `ln -s`)
are printed for the operator to run: mounting needs root and credentials we should not
handle.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath, PureWindowsPath

from winjobs.errors import ConfigError


class Platform(StrEnum):
    WINDOWS = "windows"
    LINUX = "linux"


#: Where the links live unless told otherwise.
DEFAULT_ROOT = {Platform.WINDOWS: r"C:\links", Platform.LINUX: "/srv/links"}
#: Linux: where the CIFS shares of other machines are mounted (the links point there).
LINUX_MOUNT_ROOT = "/mnt/winjobs"
#: Linux: the credentials file `mount.cifs` reads (username=, password=, domain=).
LINUX_CREDENTIALS = "/etc/winjobs/cifs-credentials"

_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$")
_SHARE = re.compile(r"^[A-Za-z0-9_.$-]{1,80}$")
_DRIVE = re.compile(r"^[A-Za-z]$")
#: local->local, local->remote, remote->local, remote->remote links all followed
_ALL_EVALUATIONS = ("L2L:1", "L2R:1", "R2L:1", "R2R:1")


@dataclass(frozen=True)
class RemoteShare:
    """`HOST:SHARE`, e.g. `PC1:D` for `\\\\PC1\\D`."""

    host: str
    share: str

    @property
    def link_name(self) -> str:
        return f"{self.host}_{self.share}"


@dataclass(frozen=True)
class LocalDisk:
    """What this machine shares: a data folder (`winjobs` for `D:\\winjobs`), or with
    `--whole-drives` a fixed disk (a drive letter on Windows, a mount point on Linux)."""

    name: str  #: the share name: `winjobs`; a drive's `D`, on Linux `root` for /
    path: str  #: `D:\\winjobs`, `D:\\` or `/data`


class Access(StrEnum):
    """What an account may do through a share: read (the default), or change (write)."""

    READ = "read"
    CHANGE = "change"


@dataclass(frozen=True)
class Grant:
    """One account or group and its access to the shares `setup-local` makes."""

    account: str
    access: Access = Access.READ

    def windows(self) -> str:
        """`net share`'s option: `/GRANT:CORP\\winjobs,READ`."""
        return f"/GRANT:{self.account},{self.access.name}"

    def samba(self) -> str:
        """A Samba usershare ACL entry: `CORP\\winjobs:R` (F: full, for change)."""
        return f"{self.account}:{'R' if self.access is Access.READ else 'F'}"


@dataclass(frozen=True)
class Step:
    """One change to a machine: a directory symbolic link, or a command to run.

    `argv` is always the equivalent command line (what `--dry-run` prints); a link step
    is carried out with `os.symlink(..., target_is_directory=True)` rather than by
    running `cmd /c mklink`, so no shell is involved.
    """

    what: str
    argv: tuple[str, ...]
    link: str | None = None  #: link steps: the link to create
    target: str | None = None  #: link steps: what it points to
    check: tuple[str, ...] | None = None  #: a command whose success means "already done"


def parse_remote(text: str) -> RemoteShare:
    """`HOST:SHARE` (also `\\\\HOST\\SHARE` or `//HOST/SHARE`) -> RemoteShare."""
    raw = text.strip()
    unc = re.fullmatch(r"[\\/]{2}([^\\/]+)[\\/]([^\\/]+)[\\/]?", raw)
    host, sep, share = (unc.group(1), ":", unc.group(2)) if unc else raw.partition(":")
    if not sep or not _HOST.match(host) or not _SHARE.match(share):
        raise ConfigError(
            f"{text!r} is not HOST:SHARE (e.g. PC1:D for \\\\PC1\\D): host letters, digits, "
            "dots and dashes; share letters, digits and _ . $ -"
        )
    return RemoteShare(host, share)


def parse_folder(text: str, platform: Platform) -> LocalDisk:
    """`FOLDER` or `NAME=FOLDER` -> the folder and its share name (default: its own name).

    Only an absolute data folder: a drive or `/` is whole-drive sharing (`--whole-drives`).
    """
    name, sep, path = text.partition("=")
    if not sep:
        name, path = "", text
    pure = PureWindowsPath(path) if platform is Platform.WINDOWS else PurePosixPath(path)
    if not pure.is_absolute():
        raise ConfigError(f"{path!r} is not an absolute folder (e.g. D:\\winjobs, /srv/winjobs)")
    if str(pure) == pure.anchor:
        raise ConfigError(
            f"{path!r} is a whole drive: name winjobs' data folder on it (e.g. "
            f"{pure / 'winjobs'}), or pass --whole-drives to share every drive"
        )
    name = name or pure.name
    if not _SHARE.match(name):
        raise ConfigError(
            f"{name!r} cannot be a share name (letters, digits and _ . $ -): name the "
            f"share with NAME={path}"
        )
    return LocalDisk(name=name, path=str(pure))


def command_line(argv: Sequence[str], platform: Platform) -> str:
    """How a step's command reads in that platform's shell (for printing only)."""
    if platform is Platform.WINDOWS:
        return subprocess.list2cmdline(list(argv))
    return shlex.join(argv)


# --------------------------------------------------------------------------- Windows


def _win(root: str, *parts: str) -> str:
    return str(PureWindowsPath(root, *parts))


def windows_link_step(link: str, target: str) -> Step:
    return Step(
        what=f"directory link {link} -> {target}",
        argv=("cmd", "/c", "mklink", "/D", link, target),
        link=link,
        target=target,
    )


def windows_folder_steps(folders: Iterable[LocalDisk], grants: Sequence[Grant]) -> list[Step]:
    """Share each data folder as `\\\\<this machine>\\<name>`, to the named accounts only."""
    _need_grants(grants)
    return [
        Step(
            what=f"share {folder.path} as \\\\<this machine>\\{folder.name} ({_who(grants)})",
            argv=(
                "net",
                "share",
                f"{folder.name}={folder.path}",
                *(grant.windows() for grant in grants),
                f"/REMARK:winjobs: {folder.path}",
            ),
            check=("net", "share", folder.name),
        )
        for folder in folders
    ]


def windows_drive_steps(
    disks: Iterable[LocalDisk], grants: Sequence[Grant], root: str = DEFAULT_ROOT[Platform.WINDOWS]
) -> list[Step]:
    """`--whole-drives`: `<root>\\drives\\<X>` -> `X:\\` for each fixed drive, shared as
    `<X>` (the original tool's layout), to the named accounts only."""
    _need_grants(grants)
    steps: list[Step] = []
    for disk in disks:
        if not _DRIVE.match(disk.name):
            raise ConfigError(f"{disk.name!r} is not a drive letter")
        letter = disk.name.upper()
        link = _win(root, "drives", letter)
        steps.append(windows_link_step(link, f"{letter}:\\"))
        steps.append(
            Step(
                what=f"share {link} as \\\\<this machine>\\{letter} ({_who(grants)})",
                argv=(
                    "net",
                    "share",
                    f"{letter}={link}",
                    *(grant.windows() for grant in grants),
                    f"/REMARK:winjobs: drive {letter}",
                ),
                check=("net", "share", letter),
            )
        )
    return steps


def windows_remote_steps(
    shares: Iterable[RemoteShare], root: str = DEFAULT_ROOT[Platform.WINDOWS]
) -> list[Step]:
    """`<root>\\<HOST>_<SHARE>` -> `\\\\HOST\\SHARE` for each share, and symbolic links
    allowed to point across the network (the merged outputs' mc-ind years do)."""
    steps = [windows_link_step(_win(root, s.link_name), f"\\\\{s.host}\\{s.share}") for s in shares]
    steps.append(
        Step(
            what="let symbolic links point to and from network shares",
            argv=("fsutil", "behavior", "set", "SymlinkEvaluation", *_ALL_EVALUATIONS),
        )
    )
    return steps


# --------------------------------------------------------------------------- Linux


def _posix(root: str, *parts: str) -> str:
    return str(PurePosixPath(root, *parts))


def linux_folder_steps(folders: Iterable[LocalDisk], grants: Sequence[Grant]) -> list[Step]:
    """Share each data folder with Samba (`net usershare`), to the named accounts only."""
    _need_grants(grants)
    acl = ",".join(grant.samba() for grant in grants)
    return [
        Step(
            what=f"share {folder.path} as //<this machine>/{folder.name} ({_who(grants)})",
            argv=(
                "net",
                "usershare",
                "add",
                folder.name,
                folder.path,
                f"winjobs: {folder.path}",
                acl,
                "guest_ok=n",
            ),
        )
        for folder in folders
    ]


def linux_drive_steps(
    disks: Iterable[LocalDisk], grants: Sequence[Grant], root: str = DEFAULT_ROOT[Platform.LINUX]
) -> list[Step]:
    """`--whole-drives` with Samba: `<root>/drives/<name>` -> the mount point, and the
    mount point shared as `<name>`, to the named accounts only."""
    drives = _posix(root, "drives")
    steps = [Step(what=f"create {drives}", argv=("mkdir", "-p", drives))]
    for disk in disks:
        link = _posix(drives, disk.name)
        steps.append(
            Step(
                what=f"link {link} -> {disk.path}",
                argv=("ln", "-sfn", disk.path, link),
                link=link,
                target=disk.path,
            )
        )
        steps += linux_folder_steps([disk], grants)
    return steps


def linux_remote_steps(
    shares: Iterable[RemoteShare],
    root: str = DEFAULT_ROOT[Platform.LINUX],
    uid: int = 1000,
    gid: int = 1000,
    credentials: str = LINUX_CREDENTIALS,
) -> list[Step]:
    """Mount `//HOST/SHARE` (CIFS) under /mnt/winjobs and link `<root>/<HOST>_<SHARE>` to it."""
    steps = [Step(what=f"create {root}", argv=("mkdir", "-p", root))]
    for share in shares:
        mount_point = _posix(LINUX_MOUNT_ROOT, share.link_name.lower())
        link = _posix(root, share.link_name)
        options = f"credentials={credentials},uid={uid},gid={gid},vers=3.0"
        steps += [
            Step(what=f"create {mount_point}", argv=("sudo", "mkdir", "-p", mount_point)),
            Step(
                what=f"mount //{share.host}/{share.share} on {mount_point}",
                argv=(
                    "sudo",
                    "mount",
                    "-t",
                    "cifs",
                    f"//{share.host}/{share.share}",
                    mount_point,
                    "-o",
                    options,
                ),
            ),
            Step(
                what=f"link {link} -> {mount_point}",
                argv=("ln", "-sfn", mount_point, link),
                link=link,
                target=mount_point,
            ),
        ]
    return steps


def linux_path_map(
    shares: Iterable[RemoteShare],
    root: str = DEFAULT_ROOT[Platform.LINUX],
    windows_root: str = DEFAULT_ROOT[Platform.WINDOWS],
) -> dict[str, str]:
    """The worker's `path_map` that turns the Windows machines' link paths into these."""
    return {_win(windows_root, s.link_name): _posix(root, s.link_name) for s in shares}


# --------------------------------------------------------------------------- both


def _need_grants(grants: Sequence[Grant]) -> None:
    if not grants:
        raise ConfigError(
            "name who may use the shares: --grant ACCOUNT (read) for each account or group "
            "that reads them, --grant-change ACCOUNT for one that writes through them"
        )


def _who(grants: Sequence[Grant]) -> str:
    return ", ".join(f"{grant.account}: {grant.access.value}" for grant in grants)


def folder_steps(
    platform: Platform, folders: Iterable[LocalDisk], grants: Sequence[Grant]
) -> list[Step]:
    """Share winjobs' data folders (the default of `setup-local`)."""
    if platform is Platform.WINDOWS:
        return windows_folder_steps(folders, grants)
    return linux_folder_steps(folders, grants)


def drive_steps(
    platform: Platform,
    disks: Iterable[LocalDisk],
    grants: Sequence[Grant],
    root: str | None = None,
) -> list[Step]:
    """Link and share whole drives (`setup-local --whole-drives`)."""
    where = root or DEFAULT_ROOT[platform]
    if platform is Platform.WINDOWS:
        return windows_drive_steps(disks, grants, where)
    return linux_drive_steps(disks, grants, where)


def remote_steps(
    platform: Platform,
    shares: Iterable[RemoteShare],
    root: str | None = None,
    uid: int = 1000,
    gid: int = 1000,
) -> list[Step]:
    where = root or DEFAULT_ROOT[platform]
    if platform is Platform.WINDOWS:
        return windows_remote_steps(shares, where)
    return linux_remote_steps(shares, where, uid=uid, gid=gid)

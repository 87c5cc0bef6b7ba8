"""Carrying out link steps (the Windows path, exercised with Linux links and a fake
command runner), and finding the fixed disks."""

from __future__ import annotations

import subprocess
from collections import namedtuple
from pathlib import Path

import psutil
import pytest

from winjobs.ops.links import Platform, Step, windows_link_step
from winjobs.ops.links_apply import LinksError, apply_steps, fixed_disks, make_link

Partition = namedtuple("Partition", "device mountpoint fstype opts")


def test_make_link_is_idempotent_and_careful(tmp_path: Path) -> None:
    target = tmp_path / "drive"
    target.mkdir()
    link = tmp_path / "links" / "drives" / "D"
    assert make_link(link, str(target)) is True
    assert link.is_symlink() and link.resolve() == target
    assert make_link(link, str(target)) is False  # already there
    with pytest.raises(LinksError, match="already links to"):
        make_link(link, str(tmp_path / "other"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(LinksError, match="not a link"):
        make_link(tmp_path / "plain", str(target))


def test_a_missing_privilege_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        error = OSError(1, "A required privilege is not held by the client")
        error.winerror = 1314  # type: ignore[attr-defined]
        raise error

    monkeypatch.setattr(Path, "symlink_to", refuse)
    with pytest.raises(LinksError, match="SeCreateSymbolicLinkPrivilege"):
        make_link(tmp_path / "l", "D:\\")


def test_apply_runs_commands_and_skips_what_exists(tmp_path: Path) -> None:
    ran: list[list[str]] = []
    existing = {("net", "share", "C")}

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        ran.append(argv)
        code = 0 if tuple(argv) in existing or argv[:2] != ["net", "share"] else 2
        if len(argv) > 3:  # creating a share
            code = 0
        return subprocess.CompletedProcess(argv, code, "", "")

    target = tmp_path / "t"
    target.mkdir()
    steps = [
        windows_link_step(str(tmp_path / "links" / "C"), str(target)),
        Step(
            "share C",
            ("net", "share", "C=x", "/GRANT:Everyone,CHANGE"),
            check=("net", "share", "C"),
        ),
        Step(
            "share D",
            ("net", "share", "D=y", "/GRANT:Everyone,CHANGE"),
            check=("net", "share", "D"),
        ),
    ]
    outcomes = apply_steps(steps, run)
    assert [(o.done, o.note) for o in outcomes] == [
        (True, ""),
        (False, "already there"),
        (True, ""),
    ]
    assert ran == [["net", "share", "C"], ["net", "share", "D"], list(steps[2].argv)]
    assert (tmp_path / "links" / "C").is_symlink()


def test_apply_stops_at_a_failing_command() -> None:
    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(
            argv, 2, "", "System error 5 has occurred.\nAccess is denied.\n"
        )

    with pytest.raises(LinksError, match="share C failed: Access is denied"):
        apply_steps([Step("share C", ("net", "share", "C=x"))], run)


def test_fixed_disks(monkeypatch: pytest.MonkeyPatch) -> None:
    windows = [
        Partition("C:\\", "C:\\", "NTFS", "rw,fixed"),
        Partition("D:\\", "D:\\", "NTFS", "rw,fixed"),
        Partition("E:\\", "E:\\", "", "cdrom"),
        Partition("F:\\", "F:\\", "FAT32", "rw,removable"),
        Partition("Z:\\", "Z:\\", "NTFS", "rw,remote"),
    ]
    monkeypatch.setattr(psutil, "disk_partitions", lambda all=False: windows)
    assert [(d.name, d.path) for d in fixed_disks(Platform.WINDOWS)] == [
        ("C", "C:\\"),
        ("D", "D:\\"),
    ]
    linux = [
        Partition("/dev/sda1", "/", "ext4", "rw"),
        Partition("/dev/sdb1", "/srv/data", "xfs", "rw"),
        Partition("/dev/loop3", "/snap/core/1", "squashfs", "ro"),
        Partition("tmpfs", "/run", "tmpfs", "rw"),
    ]
    monkeypatch.setattr(psutil, "disk_partitions", lambda all=False: linux)
    assert [(d.name, d.path) for d in fixed_disks(Platform.LINUX)] == [
        ("root", "/"),
        ("srv_data", "/srv/data"),
    ]

"""The command lines of `winjobs links`, for Windows and for Linux, on any machine."""

from __future__ import annotations

import pytest

from winjobs.errors import ConfigError
from winjobs.ops.links import (
    Access,
    Grant,
    LocalDisk,
    Platform,
    RemoteShare,
    command_line,
    drive_steps,
    folder_steps,
    linux_path_map,
    parse_folder,
    parse_remote,
    remote_steps,
)

POOL = Grant(r"CORP\winjobs-pool")
DRIVER = Grant(r"CORP\winjobs-driver", Access.CHANGE)


@pytest.mark.parametrize(
    ("text", "host", "share"),
    [
        ("PC1:D", "PC1", "D"),
        ("driver.corp.example:winjobs$", "driver.corp.example", "winjobs$"),
        (r"\\PC1\D", "PC1", "D"),
        ("//PC1/D/", "PC1", "D"),
    ],
)
def test_parse_remote(text: str, host: str, share: str) -> None:
    assert parse_remote(text) == RemoteShare(host, share)


@pytest.mark.parametrize("text", ["PC1", "PC1:", ":D", "PC 1:D", "PC1:D/E", "-pc:D"])
def test_bad_remotes_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="HOST:SHARE"):
        parse_remote(text)


def lines(steps: list, platform: Platform) -> list[str]:  # type: ignore[type-arg]
    return [command_line(step.argv, platform) for step in steps]


def test_windows_shares_only_the_data_folders_to_the_accounts_named() -> None:
    """Not the original's whole drives to Everyone with change rights: the folder alone,
    read-only to the readers, change only to the account that writes through the share."""
    folders = [parse_folder(r"D:\winjobs", Platform.WINDOWS)]
    steps = folder_steps(Platform.WINDOWS, folders, [POOL, DRIVER])
    assert lines(steps, Platform.WINDOWS) == [
        r"net share winjobs=D:\winjobs /GRANT:CORP\winjobs-pool,READ "
        r'/GRANT:CORP\winjobs-driver,CHANGE "/REMARK:winjobs: D:\winjobs"',
    ]
    assert steps[0].check == ("net", "share", "winjobs")  # an existing share is left alone
    assert all("Everyone" not in arg for step in steps for arg in step.argv)
    with pytest.raises(ConfigError, match="name who may use the shares: --grant ACCOUNT"):
        folder_steps(Platform.WINDOWS, folders, [])


def test_linux_shares_only_the_data_folders_read_only() -> None:
    folders = [parse_folder("out=/srv/winjobs/out", Platform.LINUX)]
    assert lines(folder_steps(Platform.LINUX, folders, [POOL]), Platform.LINUX) == [
        r"net usershare add out /srv/winjobs/out 'winjobs: /srv/winjobs/out' "
        r"'CORP\winjobs-pool:R' guest_ok=n",
    ]
    assert folder_steps(Platform.LINUX, folders, [DRIVER])[0].argv[-2] == r"CORP\winjobs-driver:F"


@pytest.mark.parametrize(
    ("text", "platform", "message"),
    [
        ("D:\\", Platform.WINDOWS, "is a whole drive: name winjobs' data folder"),
        ("/", Platform.LINUX, "--whole-drives"),
        ("winjobs", Platform.WINDOWS, "is not an absolute folder"),
        ("/srv/winjobs", Platform.WINDOWS, "is not an absolute folder"),
        (r"D:\win jobs", Platform.WINDOWS, "name the share with NAME="),
    ],
)
def test_bad_folders_are_refused(text: str, platform: Platform, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_folder(text, platform)


def test_whole_drives_only_to_the_accounts_named() -> None:
    disks = [LocalDisk("C", "C:\\"), LocalDisk("d", "D:\\")]
    steps = drive_steps(Platform.WINDOWS, disks, [POOL])
    assert lines(steps, Platform.WINDOWS) == [
        "cmd /c mklink /D C:\\links\\drives\\C C:\\",
        r"net share C=C:\links\drives\C /GRANT:CORP\winjobs-pool,READ "
        r'"/REMARK:winjobs: drive C"',
        "cmd /c mklink /D C:\\links\\drives\\D D:\\",
        r"net share D=C:\links\drives\D /GRANT:CORP\winjobs-pool,READ "
        r'"/REMARK:winjobs: drive D"',
    ]
    assert (steps[0].link, steps[0].target) == (r"C:\links\drives\C", "C:\\")
    assert drive_steps(Platform.WINDOWS, disks[:1], [POOL], root=r"E:\l")[0].link == (
        r"E:\l\drives\C"
    )
    with pytest.raises(ConfigError, match="drive letter"):
        drive_steps(Platform.WINDOWS, [LocalDisk("root", "/")], [POOL])
    with pytest.raises(ConfigError, match="--grant ACCOUNT"):
        drive_steps(Platform.WINDOWS, disks, [])


def test_windows_remote() -> None:
    shares = [parse_remote("DRIVER:D"), parse_remote("PC1:D")]
    steps = remote_steps(Platform.WINDOWS, shares)
    assert lines(steps, Platform.WINDOWS) == [
        r"cmd /c mklink /D C:\links\DRIVER_D \\DRIVER\D",
        r"cmd /c mklink /D C:\links\PC1_D \\PC1\D",
        "fsutil behavior set SymlinkEvaluation L2L:1 L2R:1 R2L:1 R2R:1",
    ]
    assert [(s.link, s.target) for s in steps[:2]] == [
        (r"C:\links\DRIVER_D", r"\\DRIVER\D"),
        (r"C:\links\PC1_D", r"\\PC1\D"),
    ]


def test_linux_whole_drives() -> None:
    disks = [LocalDisk("root", "/"), LocalDisk("data", "/data")]
    assert lines(drive_steps(Platform.LINUX, disks, [POOL]), Platform.LINUX) == [
        "mkdir -p /srv/links/drives",
        "ln -sfn / /srv/links/drives/root",
        "net usershare add root / 'winjobs: /' 'CORP\\winjobs-pool:R' guest_ok=n",
        "ln -sfn /data /srv/links/drives/data",
        "net usershare add data /data 'winjobs: /data' 'CORP\\winjobs-pool:R' guest_ok=n",
    ]


def test_linux_remote() -> None:
    steps = remote_steps(Platform.LINUX, [parse_remote("DRIVER:D")], uid=1001, gid=1002)
    assert lines(steps, Platform.LINUX) == [
        "mkdir -p /srv/links",
        "sudo mkdir -p /mnt/winjobs/driver_d",
        "sudo mount -t cifs //DRIVER/D /mnt/winjobs/driver_d -o "
        "credentials=/etc/winjobs/cifs-credentials,uid=1001,gid=1002,vers=3.0",
        "ln -sfn /mnt/winjobs/driver_d /srv/links/DRIVER_D",
    ]
    assert linux_path_map([parse_remote("DRIVER:D")]) == {
        r"C:\links\DRIVER_D": "/srv/links/DRIVER_D"
    }


def test_paths_with_spaces_are_quoted_for_each_shell() -> None:
    steps = remote_steps(Platform.WINDOWS, [parse_remote("PC1:D")], root=r"C:\my links")
    assert lines(steps, Platform.WINDOWS)[0] == r'cmd /c mklink /D "C:\my links\PC1_D" \\PC1\D'
    steps = remote_steps(Platform.LINUX, [parse_remote("PC1:D")], root="/srv/my links")
    assert lines(steps, Platform.LINUX)[-1] == "ln -sfn /mnt/winjobs/pc1_d '/srv/my links/PC1_D'"

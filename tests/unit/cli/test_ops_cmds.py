"""`winjobs links` and `winjobs clean`: what they print, change, refuse, and exit with."""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.unit.driver.conftest import api, clock
from tests.unit.driver.helpers import TOKENS, Api, packed_study
from winjobs.cli import links as links_cmd
from winjobs.cli import main
from winjobs.cli.clean import Kind, config_kind
from winjobs.ops.links import LocalDisk, Platform, Step
from winjobs.ops.links_apply import Outcome
from winjobs.wire import JobSubmitFields

__all__ = ["api", "clock"]  # the driver's fixtures, for `winjobs clean data` on a driver


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["winjobs", *args])
    code: int | str | None = 0
    try:
        main()
    except SystemExit as exited:
        code = exited.code
    out, err = capsys.readouterr()
    return (code if isinstance(code, int) else 0), out, err


# --------------------------------------------------------------------------- links


def test_windows_commands_are_printed_elsewhere(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(links_cmd, "this_platform", lambda: Platform.LINUX)
    code, out, _ = run(
        monkeypatch, capsys, "links", "setup-remote", "DRIVER:D", "PC1:D", "--platform", "windows"
    )
    assert code == 0
    assert r"cmd /c mklink /D C:\links\DRIVER_D \\DRIVER\D" in out
    assert r"cmd /c mklink /D C:\links\PC1_D \\PC1\D" in out


def test_linux_prints_mounts_links_and_the_path_map(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(links_cmd, "this_platform", lambda: Platform.LINUX)
    code, out, _ = run(monkeypatch, capsys, "links", "setup-remote", "DRIVER:D")
    assert code == 0
    assert "sudo mount -t cifs //DRIVER/D /mnt/winjobs/driver_d -o credentials=" in out
    assert "ln -sfn /mnt/winjobs/driver_d /srv/links/DRIVER_D" in out
    assert "path_map:\n  'C:\\links\\DRIVER_D': /srv/links/DRIVER_D" in out


def test_a_bad_share_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(monkeypatch, capsys, "links", "setup-remote", "PC1")
    assert code == 2 and out == ""
    assert err.startswith("error: 'PC1' is not HOST:SHARE") and err.count("\n") == 1


def test_windows_needs_an_administrator(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(links_cmd, "this_platform", lambda: Platform.WINDOWS)
    monkeypatch.setattr(links_cmd, "is_admin", lambda: False)
    applied: list[object] = []
    monkeypatch.setattr(links_cmd, "apply_steps", applied.append)
    code, _, err = run(monkeypatch, capsys, "links", "setup-remote", "PC1:D", "--yes")
    assert code == 1 and "Run as administrator" in err
    # a dry run needs no administrator and changes nothing
    code, out, _ = run(monkeypatch, capsys, "links", "setup-remote", "PC1:D", "--dry-run")
    assert code == 0 and "mklink /D" in out
    assert applied == []


def test_windows_asks_before_changing_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(links_cmd, "this_platform", lambda: Platform.WINDOWS)
    monkeypatch.setattr(links_cmd, "is_admin", lambda: True)
    applied: list[list[Step]] = []

    def apply(steps: list[Step]) -> list[Outcome]:
        applied.append(steps)
        return [Outcome(step, True) for step in steps]

    monkeypatch.setattr(links_cmd, "apply_steps", apply)
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, _, err = run(monkeypatch, capsys, "links", "setup-remote", "PC1:D")
    assert code == 1 and "nothing changed" in err and applied == []
    code, out, _ = run(monkeypatch, capsys, "links", "setup-remote", "PC1:D", "--yes")
    assert code == 0 and len(applied) == 1
    assert "done: directory link C:\\links\\PC1_D -> \\\\PC1\\D" in out


def test_setup_local_shares_the_data_folder_read_only_to_the_accounts_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The trial's complaint: whole drives to Everyone with change rights, by default."""
    monkeypatch.setattr(links_cmd, "this_platform", lambda: Platform.LINUX)
    data = tmp_path / "winjobs"
    data.mkdir()
    args = ("links", "setup-local", str(data), "--grant", "pool", "--grant-change", "drv")
    code, out, err = run(monkeypatch, capsys, *args)
    assert code == 0, err
    assert f"net usershare add winjobs {data} 'winjobs: {data}' pool:R,drv:F guest_ok=n" in out
    assert "Everyone" not in out and " / " not in out and err == ""
    code, out, _ = run(
        monkeypatch,
        capsys,
        "links",
        "setup-local",
        r"D:\winjobs",
        "--grant",
        r"CORP\pool",
        "--platform",
        "windows",
    )
    assert code == 0
    assert r"net share winjobs=D:\winjobs /GRANT:CORP\pool,READ" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "name the data folders to share"),
        (("DIR",), "name who may use the shares: --grant ACCOUNT"),
        (("DIR", "--grant", "pool", "--whole-drives"), "not both"),
        (("/", "--grant", "pool"), "is a whole drive"),
        (("missing", "--grant", "pool"), "is not a folder of this machine"),
    ],
)
def test_setup_local_refusals_say_what_to_fix(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    args: tuple[str, ...],
    message: str,
) -> None:
    monkeypatch.setattr(links_cmd, "this_platform", lambda: Platform.LINUX)
    monkeypatch.chdir(tmp_path)
    argv = [str(tmp_path) if arg == "DIR" else arg for arg in args]
    code, out, err = run(monkeypatch, capsys, "links", "setup-local", *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1


def test_whole_drives_only_on_the_flag_and_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(links_cmd, "this_platform", lambda: Platform.LINUX)
    monkeypatch.setattr(links_cmd, "fixed_disks", lambda _: [LocalDisk("root", "/")])
    code, out, err = run(
        monkeypatch, capsys, "links", "setup-local", "--whole-drives", "--grant", "pool"
    )
    assert code == 0
    assert "net usershare add root / 'winjobs: /' pool:R guest_ok=n" in out
    assert err.startswith("warning: --whole-drives shares every fixed drive")


# --------------------------------------------------------------------------- clean


@pytest.mark.parametrize(
    ("keys", "kind"),
    [
        ({"driver_url", "token", "solvers"}, Kind.WORKER),
        ({"tokens", "port"}, Kind.DRIVER),
        ({"data_dir", "token"}, None),  # both have these
        ({"tokens", "solvers"}, None),
    ],
)
def test_config_kind(keys: set[str], kind: Kind | None) -> None:
    assert config_kind(keys) == kind


def test_clean_refuses_what_it_cannot_read(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for key in ("WINJOBS_DRIVER_CONFIG", "WINJOBS_WORKER_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    code, _, err = run(monkeypatch, capsys, "clean", "data", "--older-than", "30")
    assert code == 2 and "duration '30' cannot be read" in err
    code, _, err = run(monkeypatch, capsys, "clean", "data")
    assert code == 2 and "--config FILE" in err
    ambiguous = tmp_path / "x.yaml"
    ambiguous.write_text("data_dir: x\n")
    code, _, err = run(monkeypatch, capsys, "clean", "logs", "--config", str(ambiguous))
    assert code == 2 and "add --driver or --worker" in err
    code, _, err = run(monkeypatch, capsys, "clean", "logs", "--driver", "--worker")
    assert code == 2 and "not both" in err


def test_clean_data_on_a_driver(
    api: Api,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    alice = api.client("alice-secret")
    old = alice.submit_job(packed_study(tmp_path, "a", nbyears=3), JobSubmitFields()).job_id
    alice.cancel_job(old)
    alice.submit_job(packed_study(tmp_path, "b", nbyears=2), JobSubmitFields())
    config = tmp_path / "driver.yaml"
    config.write_text(
        yaml.safe_dump({"data_dir": str(api.driver.settings.data_dir), "tokens": TOKENS})
    )
    args = ["clean", "data", "--config", str(config), "--older-than", "1h"]
    code, out, _ = run(monkeypatch, capsys, *args, "--dry-run")
    assert code == 0
    assert f"would remove job {old} " in out and "nothing changed" in out
    assert api.driver.files.job_dir(old).is_dir()
    code, out, _ = run(monkeypatch, capsys, *args)
    assert code == 0 and f"removing job {old} " in out and "removed 1 job(s)" in out
    assert not api.driver.files.job_dir(old).exists()
    assert [a.job_id for a in api.driver.store.archived_jobs()] == [old]


def test_clean_logs_on_a_worker(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    logs = tmp_path / "data" / "logs"
    logs.mkdir(parents=True)
    old = time.time() - 3 * 86400
    for name in ("worker.log", "worker.log.1", "worker.log.2"):
        (logs / name).write_text("x")
        os.utime(logs / name, (old, old))
    config = tmp_path / "worker.yaml"
    config.write_text(
        yaml.safe_dump(
            {"token": "t", "solvers": {"8.8": "/opt/s"}, "data_dir": str(tmp_path / "data")}
        )
    )
    monkeypatch.setenv("WINJOBS_WORKER_CONFIG", str(config))
    code, out, _ = run(monkeypatch, capsys, "clean", "logs", "--worker", "--older-than", "2d")
    assert code == 0 and "2 old log file(s)" in out
    assert sorted(p.name for p in logs.iterdir()) == ["worker.log"]


# --------------------------------------------------------------------------- start-up


def test_log_levels_are_checked_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(
        monkeypatch, capsys, "driver", "--data-dir", str(tmp_path), "--log-level", "loud"
    )
    assert code == 2 and "log_level" in err
    code, _, err = run(
        monkeypatch,
        capsys,
        "worker",
        "--token",
        "t",
        "--solver",
        "8.8=/opt/s",
        "--log-level",
        "loud",
    )
    assert code == 2 and "log_level" in err


def test_a_driver_whose_shared_root_cannot_be_written_does_not_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    config = tmp_path / "driver.yaml"
    config.write_text(
        yaml.safe_dump(
            {"data_dir": str(tmp_path / "d"), "transfer": "shared", "shared_root": str(blocker)}
        )
    )
    code, _, err = run(monkeypatch, capsys, "driver", "--config", str(config))
    assert code == 2 and "cannot be written by the driver" in err

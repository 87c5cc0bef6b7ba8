"""Shared mode on the worker: the path map, driver-side paths, the shared archive,
settings, and the folders kept for the driver's links."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from winjobs.errors import ConfigError
from winjobs.wire import TaskAssignment, Transfer
from winjobs.worker.hygiene import LINKED_MARKER, TaskFolders, is_linked
from winjobs.worker.settings import load_settings
from winjobs.worker.shared import (
    SharedOutput,
    SharedPathError,
    local_path,
    map_path,
    shared_archive,
    unzipped_run,
)

MAP = {
    r"C:\links\DRIVER_D": "/mnt/driver_d",
    r"C:\links\DRIVER_D\winjobs\special": "/srv/special",
    "/export/driver": "/mnt/nfs-driver",
}


@pytest.mark.parametrize(
    ("sent", "mapped"),
    [
        (r"C:\links\DRIVER_D\winjobs\studies\a.zip", "/mnt/driver_d/winjobs/studies/a.zip"),
        (r"c:\LINKS\driver_d\x.zip", "/mnt/driver_d/x.zip"),  # Windows paths ignore case
        ("C:/links/DRIVER_D/x.zip", "/mnt/driver_d/x.zip"),  # either separator
        (r"C:\links\DRIVER_D\winjobs\special\b.zip", "/srv/special/b.zip"),  # longest wins
        (r"C:\links\DRIVER_DD\x.zip", r"C:\links\DRIVER_DD\x.zip"),  # whole components only
        ("/export/driver/studies/c.zip", "/mnt/nfs-driver/studies/c.zip"),
        ("/EXPORT/driver/c.zip", "/EXPORT/driver/c.zip"),  # POSIX paths keep their case
        ("/elsewhere/c.zip", "/elsewhere/c.zip"),  # no prefix: unchanged
    ],
)
def test_map_path(sent: str, mapped: str) -> None:
    assert map_path(sent, MAP) == mapped


def test_an_unmapped_windows_path_is_refused_off_windows() -> None:
    with pytest.raises(SharedPathError, match="add a `path_map` entry"):
        local_path(r"C:\links\OTHER\a.zip", MAP, windows_here=False)
    assert local_path(r"C:\links\OTHER\a.zip", MAP, windows_here=True) == Path(
        r"C:\links\OTHER\a.zip"
    )
    assert local_path("/data/a.zip", {}, windows_here=False) == Path("/data/a.zip")


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        (r"C:\links\PC1_D\out", r"C:\links\PC1_D\out\job1-task2-a1\study\output\run"),
        ("C:\\links\\PC1_D\\out\\", r"C:\links\PC1_D\out\job1-task2-a1\study\output\run"),
        ("/srv/links/PC1_SHARE/out", "/srv/links/PC1_SHARE/out/job1-task2-a1/study/output/run"),
    ],
)
def test_run_paths_are_reported_as_the_driver_reaches_them(
    tmp_path: Path, root: str, expected: str
) -> None:
    shared = SharedOutput(tmp_path / "out", root)
    run = tmp_path / "out" / "job1-task2-a1" / "study" / "output" / "run"
    assert shared.driver_path(run) == expected


def _assignment(path: str | None, size: int) -> TaskAssignment:
    return TaskAssignment(
        task_id=2,
        job_id=1,
        attempt=1,
        years=[0, 1],
        antares_version="8.8",
        solver_version="8.8",
        study_sha256="0" * 64,
        study_size=size,
        study_name="s",
        transfer=Transfer.SHARED,
        shared_archive_path=path,
        lease_seconds=60,
        heartbeat_interval_s=5,
    )


def test_the_shared_archive_is_read_where_the_map_says(tmp_path: Path) -> None:
    mount = tmp_path / "mnt" / "driver"
    (mount / "studies").mkdir(parents=True)
    archive = mount / "studies" / "a.zip"
    archive.write_bytes(b"x" * 10)
    path_map = {r"C:\links\DRIVER_D": str(mount)}
    sent = r"C:\links\DRIVER_D\studies\a.zip"
    assert shared_archive(_assignment(sent, 10), path_map, windows_here=False) == archive
    with pytest.raises(SharedPathError, match="has 10 bytes, the driver announced 11"):
        shared_archive(_assignment(sent, 11), path_map, windows_here=False)
    with pytest.raises(SharedPathError, match=r"cannot read the study archive .*driver path"):
        shared_archive(_assignment(r"C:\links\DRIVER_D\b.zip", 10), path_map, False)
    with pytest.raises(SharedPathError, match="without shared_archive_path"):
        shared_archive(_assignment(None, 10), path_map, windows_here=False)


def test_a_zipped_run_becomes_a_folder(tmp_path: Path) -> None:
    run = tmp_path / "20260101-1200eco.zip"
    with zipfile.ZipFile(run, "w") as archive:
        archive.writestr("info.antares-output", "x")
        archive.writestr("economy/mc-all/grid/digest.txt", "y")
    folder = unzipped_run(run)
    assert folder == tmp_path / "20260101-1200eco"
    assert (folder / "economy" / "mc-all" / "grid" / "digest.txt").read_text() == "y"
    assert not run.exists()
    assert unzipped_run(folder) == folder


def test_shared_settings(tmp_path: Path) -> None:
    base = {"token": "t", "solvers": {"8.8": "/opt/solver"}}
    with pytest.raises(ConfigError, match="shared_output_dir"):
        load_settings(None, {**base, "transfer": "shared"})
    settings = load_settings(
        None,
        {
            **base,
            "transfer": "shared",
            "shared_output_dir": tmp_path / "out",
            "shared_output_root": r"C:\links\PC1_D\out",
            "path_map": {r"C:\links\DRIVER_D": "/mnt/d"},
            "log_level": "DEBUG",
        },
    )
    assert settings.tasks_dir == tmp_path / "out"
    assert settings.log_level == "debug"
    assert load_settings(None, base).tasks_dir == Path("data/worker/tasks")
    with pytest.raises(ConfigError, match="log_level"):
        load_settings(None, {**base, "log_level": "chatty"})


def test_a_linked_run_keeps_only_its_run(tmp_path: Path) -> None:
    folders = TaskFolders(tmp_path / "tasks")
    folder = folders.new("job1-task2-a1")
    run = folder / "study" / "output" / "20260101-1200eco"
    (run / "economy" / "mc-ind" / "00001").mkdir(parents=True)
    (folder / "study" / "output" / "other-run").mkdir()
    (folder / "study" / "input" / "areas").mkdir(parents=True)
    (folder / "study" / "settings").mkdir()
    (folder / "study" / "study.antares").write_text("x")
    (folder / "solver.log").write_text("log")
    (folder / "run.zip").write_bytes(b"z")
    folders.keep_linked(folder, run, json.dumps({"job_id": 1}))
    kept = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    assert kept == sorted(
        [
            LINKED_MARKER,
            "solver.log",
            "study",
            "study/output",
            "study/output/20260101-1200eco",
            "study/output/20260101-1200eco/economy",
            "study/output/20260101-1200eco/economy/mc-ind",
            "study/output/20260101-1200eco/economy/mc-ind/00001",
        ]
    )
    assert is_linked(folder)
    # a restarted worker deletes its stale folders, but not the linked ones
    stale = folders.new("job1-task3-a1")
    assert folders.clean_stale() == [stale]
    assert folder.is_dir() and not stale.exists()

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from winjobs.worker.hygiene import (
    SOLVER_PID_FILE,
    TaskFolders,
    evict_archives,
    free_disk_bytes,
    low_disk_reason,
    remove_tree,
    touch,
)
from winjobs.worker.runner import SolverProcess, kill_recorded_solver


def _archive(cache: Path, name: str, size: int, age: int) -> Path:
    cache.mkdir(exist_ok=True)
    path = cache / f"{name}.zip"
    path.write_bytes(b"x" * size)
    os.utime(path, (1_000_000 + age, 1_000_000 + age))
    return path


def test_free_disk_of_a_folder_not_created_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Asked of the nearest existing parent. (Not compared with a second live reading: the
    # disk is shared, and other processes write between the two.)
    asked: list[Path] = []
    usage = shutil.disk_usage(tmp_path)._replace(free=12345)

    def disk_usage(path: Path) -> object:
        asked.append(Path(path))
        return usage

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)
    assert free_disk_bytes(tmp_path / "not" / "yet") == 12345
    assert asked == [tmp_path.resolve()]


def test_low_disk_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    usage = shutil.disk_usage(tmp_path)._replace(free=3 * 1024**3)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage)
    assert low_disk_reason(tmp_path, minimum=2 * 1024**3) is None
    assert low_disk_reason(tmp_path, minimum=2 * 1024**3, needed=512 * 1024**2) is None
    reason = low_disk_reason(tmp_path, minimum=2 * 1024**3, needed=1536 * 1024**2)
    assert reason == (
        f"not enough free disk on the worker: 3.0 GiB free at {tmp_path}, "
        "1.5 GiB needed for the task and 2.0 GiB kept free"
    )


def test_least_recently_used_archives_go_first(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    old = _archive(cache, "old", 400, age=1)
    used = _archive(cache, "used", 400, age=2)
    new = _archive(cache, "new", 400, age=3)
    touch(used)  # used just now: it becomes the most recent
    partial = cache / "other.zip.part"
    partial.write_bytes(b"p" * 100)
    deleted = evict_archives(cache, max_total_bytes=600)  # 1300 bytes in the cache
    assert deleted == [old, new]
    assert used.exists()
    assert partial.exists()  # a partial download is resumed later, never evicted
    assert evict_archives(cache, max_total_bytes=600) == []


def test_the_archive_in_use_is_never_evicted(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    big = _archive(cache, "big", 5000, age=1)
    other = _archive(cache, "other", 10, age=2)
    assert evict_archives(cache, max_total_bytes=1000, keep=[big]) == [other]
    assert big.exists()
    assert evict_archives(tmp_path / "no-cache", 0) == []


def test_retired_task_folders_beyond_the_last_n_are_deleted(tmp_path: Path) -> None:
    folders = TaskFolders(tmp_path / "tasks", keep_last=2)
    made = [folders.new(f"task-{i}") for i in range(4)]
    for folder in made:
        (folder / "output").mkdir()
        folders.retire(folder)
    assert [f.exists() for f in made] == [False, False, True, True]
    again = folders.new("task-3")  # a re-run of the same attempt name starts empty
    assert list(again.iterdir()) == []


def test_keep_zero_deletes_at_once_and_stale_folders_go_at_start(tmp_path: Path) -> None:
    folders = TaskFolders(tmp_path / "tasks")
    folder = folders.new("a")
    folders.retire(folder)
    assert not folder.exists()
    left = [folders.new("b"), folders.new("c")]
    assert sorted(TaskFolders(tmp_path / "tasks").clean_stale()) == left
    assert not any(f.exists() for f in left)
    assert TaskFolders(tmp_path / "none").clean_stale() == []


def test_read_only_files_are_deleted(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    (folder / "input").mkdir(parents=True)
    locked = folder / "input" / "locked.txt"
    locked.write_text("x")
    locked.chmod(stat.S_IREAD)
    (folder / "input").chmod(stat.S_IREAD | stat.S_IEXEC)
    remove_tree(folder)
    assert not folder.exists()


def test_a_solver_left_running_by_a_killed_worker_is_killed_at_start(tmp_path: Path) -> None:
    folder = tmp_path / "tasks" / "job1-task1-a1"
    folder.mkdir(parents=True)
    orphan = SolverProcess(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        folder / "solver.log",
        pid_file=folder / SOLVER_PID_FILE,
    )
    orphan.start()
    assert orphan.pid is not None
    assert TaskFolders(tmp_path / "tasks").clean_stale() == [folder]
    assert not folder.exists()
    assert not psutil.pid_exists(orphan.pid) or (
        psutil.Process(orphan.pid).status() == psutil.STATUS_ZOMBIE
    )
    orphan.kill()  # reaps it


def test_a_recorded_pid_now_used_by_another_process_is_left_alone(tmp_path: Path) -> None:
    pid_file = tmp_path / SOLVER_PID_FILE
    pid_file.write_text(f"{os.getpid()} 12345.0\n")  # our pid, but another creation time
    assert kill_recorded_solver(pid_file) is False
    pid_file.write_text("garbage")
    assert kill_recorded_solver(pid_file) is False
    assert kill_recorded_solver(tmp_path / "missing") is False


def test_a_solver_started_but_not_yet_recorded_is_found_by_its_folder(tmp_path: Path) -> None:
    """kill -9 of the worker between starting its solver and writing solver.pid: the
    solver runs in its task's folder, which is how the next start finds it."""
    folder = tmp_path / "tasks" / "job1-task2-a1"
    folder.mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    with (
        subprocess.Popen(sleep, cwd=folder) as orphan,
        subprocess.Popen(sleep, cwd=outside) as bystander,
    ):
        try:
            assert not (folder / SOLVER_PID_FILE).exists()
            assert TaskFolders(tmp_path / "tasks").clean_stale() == [folder]
            assert orphan.wait(10) is not None  # killed (and reaped here)
            assert not folder.exists()
            assert bystander.poll() is None  # a process working elsewhere is left alone
        finally:
            bystander.kill()
            orphan.kill()

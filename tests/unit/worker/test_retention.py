"""`winjobs clean data` on a worker, and the lock a running worker holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

from winjobs.worker.hygiene import LINKED_MARKER
from winjobs.worker.retention import (
    LOCK_FILE,
    WorkerBusy,
    apply_clean,
    plan_clean,
    running_worker,
    worker_lock,
)
from winjobs.worker.settings import WorkerSettings, load_settings

DAY = 86400.0


def settings_for(tmp_path: Path) -> WorkerSettings:
    return load_settings(
        None,
        {
            "token": "t",
            "solvers": {"8.8": "/opt/solver"},
            "data_dir": tmp_path / "data",
            "transfer": "shared",
            "shared_output_dir": tmp_path / "share",
            "shared_output_root": "/srv/links/PC1/share",
        },
    )


def aged(path: Path, days: float) -> Path:
    moment = time.time() - days * DAY
    os.utime(path, (moment, moment))
    return path


def task_folder(root: Path, name: str, days: float, linked: bool) -> Path:
    folder = root / name
    (folder / "study").mkdir(parents=True)
    (folder / "study" / "data.txt").write_bytes(b"x" * 100)
    if linked:
        marker = folder / LINKED_MARKER
        marker.write_text(json.dumps({"job_id": 7, "task_id": 9, "years": [0, 1]}))
        aged(marker, days)
    return aged(folder, days)


@pytest.fixture
def worker_data(tmp_path: Path) -> WorkerSettings:
    settings = settings_for(tmp_path)
    share = settings.tasks_dir
    task_folder(share, "old-linked", 40, linked=True)
    task_folder(share, "new-linked", 2, linked=True)
    task_folder(share, "old-leftover", 40, linked=False)
    task_folder(share, "new-leftover", 2, linked=False)
    settings.cache_dir.mkdir(parents=True)
    (settings.cache_dir / ("a" * 64 + ".zip")).write_bytes(b"a" * 10)
    aged(settings.cache_dir / ("a" * 64 + ".zip"), 40)
    (settings.cache_dir / ("b" * 64 + ".zip")).write_bytes(b"b" * 10)
    return settings


def test_plan_and_apply(worker_data: WorkerSettings) -> None:
    before = datetime.now(UTC) - timedelta(days=30)
    plan = plan_clean(worker_data, before)
    found = {(r.path.name, r.what) for r in plan}
    assert found == {
        ("old-linked", "linked run"),
        ("old-leftover", "task folder"),
        ("a" * 64 + ".zip", "cached archive"),
    }
    linked = next(r for r in plan if r.what == "linked run")
    assert linked.note == "job 7 task 9 years [0, 1]" and linked.size >= 100
    assert all(r.path.exists() for r in plan)  # planning changes nothing
    freed = apply_clean(plan)
    assert freed == sum(r.size for r in plan)
    left = sorted(p.name for p in worker_data.tasks_dir.iterdir())
    assert left == ["new-leftover", "new-linked"]
    assert [p.name for p in worker_data.cache_dir.iterdir()] == ["b" * 64 + ".zip"]


def test_a_running_worker_s_task_folders_are_left_alone(worker_data: WorkerSettings) -> None:
    before = datetime.now(UTC) + timedelta(days=1)  # everything is "old"
    with worker_lock(worker_data.data_dir):
        assert running_worker(worker_data.data_dir) == os.getpid()
        whats = {r.what for r in plan_clean(worker_data, before)}
    assert whats == {"linked run", "cached archive"}  # no unlinked task folder
    assert not (worker_data.data_dir / LOCK_FILE).exists()
    assert "task folder" in {r.what for r in plan_clean(worker_data, before)}


def test_a_second_worker_on_the_same_data_folder_is_refused(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        created = psutil.Process(other.pid).create_time()
        tmp_path.mkdir(exist_ok=True)
        (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": other.pid, "created": created}))
        assert running_worker(tmp_path) == other.pid
        with pytest.raises(WorkerBusy, match=f"pid {other.pid}"), worker_lock(tmp_path):
            pass
    finally:
        other.kill()
        other.wait()
    assert running_worker(tmp_path) is None  # a stale lock is ignored
    with worker_lock(tmp_path):
        pass

"""Rotating log files of the driver and the worker, and the level names."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from winjobs.errors import ConfigError
from winjobs.logfiles import close_logging, log_file, parse_level, rotated_logs, setup_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    close_logging()
    root.setLevel(level)
    assert root.handlers == handlers


def test_levels() -> None:
    assert parse_level("info") == logging.INFO
    assert parse_level(" DEBUG ") == logging.DEBUG
    with pytest.raises(ConfigError, match="debug, info, warning, error, critical"):
        parse_level("verbose")


def test_the_log_file_rotates_by_size(tmp_path: Path) -> None:
    path = log_file(tmp_path / "data", "worker")
    assert path == tmp_path / "data" / "logs" / "worker.log"
    setup_logging("info", path, max_bytes=2000, backups=2, console=False)
    log = logging.getLogger("winjobs.test")
    for number in range(200):
        log.info("line %03d %s", number, "x" * 40)
    log.debug("not at info level")
    close_logging()
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["worker.log", "worker.log.1", "worker.log.2"]  # older ones dropped
    assert all(p.stat().st_size <= 2000 for p in path.parent.iterdir())
    text = path.read_text(encoding="utf-8")
    assert "line 199" in text and "winjobs.test" in text and "INFO" in text
    assert "not at info level" not in text


def test_setting_up_twice_replaces_the_handlers(tmp_path: Path) -> None:
    first = setup_logging("info", tmp_path / "a.log", console=False)
    second = setup_logging("warning", tmp_path / "b.log")
    root = logging.getLogger()
    assert not any(h in root.handlers for h in first)
    assert all(h in root.handlers for h in second)
    logging.getLogger("x").warning("only once")
    close_logging()
    assert (tmp_path / "b.log").read_text().count("only once") == 1
    assert not (tmp_path / "a.log").exists()  # created only when written to


def test_rotated_logs_are_the_old_numbered_ones(tmp_path: Path) -> None:
    old = time.time() - 40 * 86400
    for name in ("driver.log", "driver.log.1", "driver.log.2", "notes.txt.1", "driver.log.x"):
        (tmp_path / name).write_text("x")
        os.utime(tmp_path / name, (old, old))
    (tmp_path / "driver.log.3").write_text("recent")
    cut = datetime.now(UTC) - timedelta(days=30)
    assert [p.name for p in rotated_logs(tmp_path, cut)] == ["driver.log.1", "driver.log.2"]
    assert rotated_logs(tmp_path / "missing", cut) == []

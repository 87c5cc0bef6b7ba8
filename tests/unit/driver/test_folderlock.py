"""One driver process per data folder: the lock refuses a second holder, says who holds
it, and is free again once released."""

from __future__ import annotations

from pathlib import Path

import pytest

from winjobs.driver.folderlock import DataFolderLock
from winjobs.errors import ConfigError


def test_a_second_holder_is_refused_until_the_first_releases(tmp_path: Path) -> None:
    first = DataFolderLock(tmp_path / "data").acquire()
    with pytest.raises(ConfigError, match=r"already served by driver process \d+.*--workers 1"):
        DataFolderLock(tmp_path / "data").acquire()
    first.release()
    again = DataFolderLock(tmp_path / "data").acquire()
    again.release()


def test_another_folder_is_another_lock(tmp_path: Path) -> None:
    one = DataFolderLock(tmp_path / "one").acquire()
    two = DataFolderLock(tmp_path / "two").acquire()
    one.release()
    two.release()

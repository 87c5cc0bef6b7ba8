"""One driver process per data folder: an OS lock on `<data_dir>/driver.lock`.

The lock is the operating system's (`fcntl.flock` on POSIX, `msvcrt.locking` on Windows):
it is released when the process ends, however it ends (kill -9 included), so a crashed
driver never leaves a stale lock behind that an operator must remove by hand.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

from winjobs.errors import ConfigError

LOCK_NAME = "driver.lock"


def _try_lock(handle: IO[bytes]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class DataFolderLock:
    """Held for the life of the process that serves the driver from `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._handle: IO[bytes] | None = None

    def acquire(self) -> DataFolderLock:
        """Take the lock or raise ConfigError saying which process holds it and why one
        is the most: the driver keeps in memory what its waiting claims are woken by."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+b")
        if not _try_lock(handle):
            handle.seek(0)
            holder = handle.read().decode("ascii", "replace").strip() or "another process"
            handle.close()
            raise ConfigError(
                f"the data folder {self.path.parent} is already served by {holder}: one "
                "driver process per data folder (uvicorn --workers 1; several processes "
                "would not wake each other's waiting claims nor share their counters)"
            )
        handle.seek(0)
        handle.truncate()
        handle.write(f"driver process {os.getpid()}".encode("ascii"))
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file releases the OS lock
            self._handle = None

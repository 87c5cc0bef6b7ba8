"""Logging of the long-running processes (driver, worker): console plus rotating files.

A driver or worker runs for months on a machine nobody watches: its console scrolls away
or is not there at all (a Windows service, a scheduled task). So each writes its log into
its data folder as well (`<data_dir>/logs/driver.log`, `.../worker.log`), rotated by size
so that it never fills the disk; `winjobs clean logs` removes old rotated files.

Shared by the driver and the worker (they may not import each other), so it imports
nothing of ours but `winjobs.errors`.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator

from winjobs.errors import ConfigError

LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
#: Folder of the log files inside a data folder.
LOGS_FOLDER = "logs"

#: Marks the handlers `setup_logging` installed, so that a second call replaces them
#: (tests, or a command run twice in one process) instead of writing every line twice.
_OURS = "_winjobs_handler"


def _known_level(value: str) -> str:
    key = value.strip().lower()
    if key not in LEVELS:
        raise ValueError(f"must be one of {', '.join(LEVELS)}")
    return key


#: A settings field holding a log level name, normalised to lower case.
LogLevel = Annotated[str, AfterValidator(_known_level)]


def parse_level(name: str) -> int:
    """`info` -> logging.INFO; anything else than LEVELS is a ConfigError naming them."""
    key = name.strip().lower()
    if key not in LEVELS:
        raise ConfigError(f"log level {name!r} is not one of {', '.join(LEVELS)}")
    return int(getattr(logging, key.upper()))


def log_file(data_dir: Path, program: str) -> Path:
    """Where `program` ("driver", "worker") writes its log inside its data folder."""
    return data_dir / LOGS_FOLDER / f"{program}.log"


def setup_logging(
    level: str,
    file: Path | None,
    max_bytes: int = 10 * 1024**2,
    backups: int = 5,
    console: bool = True,
) -> list[logging.Handler]:
    """Send every logger's records at `level` and above to the console (stderr) and to
    `file`, rotated when it reaches `max_bytes` (`backups` old files kept: file.1 ...).

    Replaces the handlers an earlier call installed; returns the new ones.
    """
    numeric = parse_level(level)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OURS, False):
            root.removeHandler(handler)
            handler.close()
    formatter = logging.Formatter(LOG_FORMAT, DATE_FORMAT)
    handlers: list[logging.Handler] = []
    if console:
        handlers.append(logging.StreamHandler(sys.stderr))
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
            )
        )
    for handler in handlers:
        setattr(handler, _OURS, True)
        handler.setFormatter(formatter)
        handler.setLevel(numeric)
        root.addHandler(handler)
    root.setLevel(numeric)
    # One line per HTTP request otherwise (the worker's client, the driver's tests).
    logging.getLogger("httpx").setLevel(max(numeric, logging.WARNING))
    return handlers


def close_logging() -> None:
    """Remove and close the handlers `setup_logging` installed (files released)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OURS, False):
            root.removeHandler(handler)
            handler.close()


def rotated_logs(folder: Path, before: datetime) -> list[Path]:
    """Old rotated log files (`driver.log.1`, `worker.log.3`...) last written before
    `before`; the log being written is never among them."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        stem, _, number = path.name.rpartition(".")
        if not (stem.endswith(".log") and number.isdigit() and path.is_file()):
            continue
        if datetime.fromtimestamp(path.stat().st_mtime, UTC) < before:
            found.append(path)
    return found

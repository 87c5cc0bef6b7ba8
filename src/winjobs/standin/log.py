"""The solver's log, line for line in the real format.

The worker follows a run by reading the solver's stdout (progress: `MC-Years`, one
`Exporting the annual results` per year; failure: a `[fatal]` line), and users read
`STUDY/logs/solver-*.log` and the run folder's `simulation.log`. So every line goes to
stdout and, once the study is known, to the log file, as
`[YYYY-MM-DD HH:MM:SS][solver][infos] text`. Level tags are coloured on a terminal like
the real solver's (`WINJOBS_STANDIN_COLOR=always|never` overrides the detection).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import IO

COLOR_ENV = "WINJOBS_STANDIN_COLOR"

_RESET = "\x1b[0m"
_BRIGHT = "\x1b[1;37m\x1b[1m"
_GREEN = "\x1b[0;32m"
_YELLOW = "\x1b[0;33m"
_RED = "\x1b[0;31m"


class Level(Enum):
    """The solver's log levels, by their five-letter tags."""

    INFO = "infos"
    NOTICE = "notic"
    CHECK = "check"
    WARNING = "warns"
    ERROR = "error"
    FATAL = "fatal"


_COLOURS = {
    Level.NOTICE: _GREEN,
    Level.CHECK: _BRIGHT,
    Level.WARNING: _YELLOW,
    Level.ERROR: _RED,
    Level.FATAL: _RED,
}


def use_colour(stream: IO[str], environ: Mapping[str, str]) -> bool:
    """Colour codes like the real solver on a terminal, plain text when redirected."""
    forced = environ.get(COLOR_ENV, "").strip().lower()
    if forced in ("always", "1", "yes"):
        return True
    if forced in ("never", "0", "no"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def format_line(stamp: str, source: str, level: Level, text: str, *, colour: bool) -> str:
    """One log line; with colour, the tag (and a checkpoint's text) carry ANSI codes."""
    tag = f"[{level.value}]"
    if not colour or level is Level.INFO:
        return f"[{stamp}][{source}]{tag} {text}"
    code = _COLOURS[level]
    if level is Level.CHECK:
        return f"[{stamp}][{source}]{code}{tag}{_RESET} {code}{text}{_RESET}"
    return f"[{stamp}][{source}]{code}{tag}{_RESET} {text}"


def _now_stamp() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")


class SolverLog:
    """Thread-safe log writer: stdout always, the log file once `open_file` was called.

    Every line is flushed at once: the worker tails stdout for progress and a killed
    process must leave a log that says how far it went.
    """

    def __init__(
        self,
        stream: IO[str],
        *,
        colour: bool,
        clock: Callable[[], str] = _now_stamp,
    ) -> None:
        self._stream = stream
        self._colour = colour
        self._clock = clock
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self.path: Path | None = None

    def open_file(self, path: Path) -> None:
        """Start copying every following line to `path` (the study's logs/solver-*.log)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._file = path.open("w", encoding="utf-8", newline="\n")
            self.path = path

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def copy_to(self, target: Path) -> None:
        """Copy the log so far to `target` (the run folder's simulation.log)."""
        with self._lock:
            if self._file is None or self.path is None:
                return
            self._file.flush()
            shutil.copyfile(self.path, target)

    def write(self, level: Level, text: str = "", *, source: str = "solver") -> None:
        stamp = self._clock()
        with self._lock:
            self._stream.write(format_line(stamp, source, level, text, colour=self._colour))
            self._stream.write("\n")
            self._stream.flush()
            if self._file is not None and source == "solver":
                self._file.write(format_line(stamp, source, level, text, colour=False))
                self._file.write("\n")
                self._file.flush()

    def info(self, text: str = "") -> None:
        self.write(Level.INFO, text)

    def notice(self, text: str) -> None:
        self.write(Level.NOTICE, text)

    def check(self, text: str) -> None:
        self.write(Level.CHECK, text)

    def warning(self, text: str) -> None:
        self.write(Level.WARNING, text)

    def error(self, text: str) -> None:
        self.write(Level.ERROR, text)

    def fatal(self, text: str) -> None:
        self.write(Level.FATAL, text)

    def banner(self, text: str) -> None:
        """The `[noname]` lines printed before the log file exists (stdout only)."""
        self.write(Level.INFO, text, source="noname")

    def raw(self, text: str) -> None:
        """Plain text on stdout (help screens, continuation lines of a banner)."""
        with self._lock:
            self._stream.write(text)
            self._stream.write("\n")
            self._stream.flush()

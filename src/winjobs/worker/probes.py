"""What the owner's policy looks at: the owner's idle time, other programs' CPU load, free
memory, and the local time. Each probe is a plain callable, so tests inject fakes.

Idle time, by `idle_source`:
- `windows`: `GetLastInputInfo` (user32, through ctypes): the last keyboard or mouse input
  of the session the worker runs in. A worker started as a service (session 0) sees no
  input at all: start it in the owner's session (Task Scheduler, "at log on").
- `x11`: the XScreenSaver extension (libX11 + libXss through ctypes) of `$DISPLAY`.
- `file`: seconds since `idle_file` was last modified; touch it to say the owner is active
  (scripts, remote sessions, tests). A missing file means nobody has been active.
- `none`: not used (windows' `idle=` conditions are ignored).
- `auto` (default): `windows` on Windows; `x11` where a display and the libraries are
  there; else `none`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import psutil

from winjobs.worker.policy import Facts

log = logging.getLogger(__name__)

#: seconds since the owner's last input; None: cannot be known here
IdleSource = Callable[[], float | None]
#: CPU load (% of the machine) of every program but the solver tree rooted at the pid
LoadSource = Callable[[int | None], float | None]
#: bytes of memory available to programs
MemorySource = Callable[[], int | None]
Clock = Callable[[], datetime]


class IdleKind(StrEnum):
    AUTO = "auto"
    WINDOWS = "windows"
    X11 = "x11"
    FILE = "file"
    NONE = "none"


def local_now() -> datetime:
    """The machine's local time, timezone-aware (schedules are in local time)."""
    return datetime.now().astimezone()


# --------------------------------------------------------------------------- Windows


class LastInputInfo(ctypes.Structure):
    """LASTINPUTINFO: `dwTime` is the tick count (ms, 32 bits) of the last input."""

    _fields_ = [("cbSize", ctypes.c_uint), ("dwTime", ctypes.c_uint)]


def windows_idle_source(user32: Any = None, kernel32: Any = None) -> IdleSource:
    """Idle time from `GetLastInputInfo`; `user32`/`kernel32` are injectable for tests."""
    if user32 is None or kernel32 is None:
        if sys.platform != "win32":
            raise OSError("GetLastInputInfo exists on Windows only")
        user32, kernel32 = ctypes.windll.user32, ctypes.windll.kernel32
        kernel32.GetTickCount.restype = ctypes.c_uint32

    def idle_seconds() -> float | None:
        info = LastInputInfo()
        info.cbSize = ctypes.sizeof(LastInputInfo)
        if not user32.GetLastInputInfo(ctypes.pointer(info)):
            return None
        # Both are 32-bit tick counts: the difference is right across their wrap (49.7 d).
        elapsed_ms = (int(kernel32.GetTickCount()) - int(info.dwTime)) & 0xFFFFFFFF
        return elapsed_ms / 1000.0

    return idle_seconds


# --------------------------------------------------------------------------- X11


class XScreenSaverInfo(ctypes.Structure):
    _fields_ = [
        ("window", ctypes.c_ulong),
        ("state", ctypes.c_int),
        ("kind", ctypes.c_int),
        ("til_or_since", ctypes.c_ulong),
        ("idle", ctypes.c_ulong),  #: ms since the last input
        ("eventMask", ctypes.c_ulong),
    ]


def _load_library(name: str) -> Any:
    path = ctypes.util.find_library(name)
    if path is None:
        raise OSError(f"lib{name} is not installed")
    return ctypes.CDLL(path)


def x11_idle_source(
    display_name: str | None = None, load: Callable[[str], Any] = _load_library
) -> IdleSource:
    """Idle time from the XScreenSaver extension; OSError when there is no display or
    library. `load` (library name -> CDLL) is injectable for tests."""
    display_name = display_name if display_name is not None else os.environ.get("DISPLAY", "")
    if not display_name:
        raise OSError("no X11 display ($DISPLAY is not set)")
    xlib, xss = load("X11"), load("Xss")
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XDefaultRootWindow.restype = ctypes.c_ulong
    xlib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    xss.XScreenSaverAllocInfo.restype = ctypes.POINTER(XScreenSaverInfo)
    xss.XScreenSaverQueryInfo.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.POINTER(XScreenSaverInfo),
    ]
    display = xlib.XOpenDisplay(display_name.encode())
    if not display:
        raise OSError(f"cannot open the X11 display {display_name!r}")
    root = xlib.XDefaultRootWindow(display)
    info = xss.XScreenSaverAllocInfo()

    def idle_seconds() -> float | None:
        if not xss.XScreenSaverQueryInfo(display, root, info):
            return None
        return float(info.contents.idle) / 1000.0

    return idle_seconds


# --------------------------------------------------------------------------- file


def file_idle_source(path: Path, wall: Callable[[], float] = time.time) -> IdleSource:
    """Seconds since `path` was modified; a missing file: nobody was ever active."""

    def idle_seconds() -> float | None:
        try:
            return max(0.0, wall() - path.stat().st_mtime)
        except FileNotFoundError:
            return math.inf

    return idle_seconds


def make_idle_source(kind: IdleKind, idle_file: Path | None) -> tuple[IdleSource | None, str]:
    """The idle source the settings ask for, and a line for the log saying which it is.

    An explicit `windows` or `x11` that cannot work raises OSError (the operator asked
    for it); `auto` falls back to none, saying why.
    """
    if kind is IdleKind.NONE:
        return None, "not used (idle_source: none)"
    if kind is IdleKind.FILE:
        assert idle_file is not None  # the settings require it
        return file_idle_source(idle_file), f"age of {idle_file} (idle_source: file)"
    if kind is IdleKind.WINDOWS or (kind is IdleKind.AUTO and sys.platform == "win32"):
        return windows_idle_source(), "GetLastInputInfo (Windows)"
    try:
        return x11_idle_source(), f"XScreenSaver of X11 display {os.environ.get('DISPLAY')}"
    except OSError as exc:
        if kind is IdleKind.X11:
            raise
        return None, f"not available ({exc}): idle= conditions of the schedule are not used"


# --------------------------------------------------------------------------- load, memory


def _busy_and_total(times: Any) -> tuple[float, float]:
    """CPU-seconds busy and in all, summed over the cores (psutil.cpu_times()), counted
    as psutil's own cpu_percent counts them: on Linux `guest` time is already in `user`,
    and `iowait` is idle."""
    total = float(sum(times)) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    idle = float(times.idle) + float(getattr(times, "iowait", 0.0))
    return total - idle, total


def tree_cpu_seconds(pid: int) -> float:
    """CPU time used so far by `pid` and every process below it (0: gone)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    used = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        used += times.user + times.system
    return used


class OtherLoad:
    """CPU load of every program but the solver's tree since the previous call, in % of
    the machine. From CPU-time counters rather than psutil's per-process percentages,
    which read 0 on their first call: a solver just started would count as another
    program for one sample and suspend itself."""

    def __init__(
        self,
        cpu_times: Callable[[], Any] = psutil.cpu_times,
        tree_seconds: Callable[[int], float] = tree_cpu_seconds,
    ) -> None:
        self._cpu_times = cpu_times
        self._tree_seconds = tree_seconds
        self._last: tuple[float, float, int | None, float] | None = None
        self(None)  # the first sample only sets the baseline

    def __call__(self, solver_pid: int | None) -> float | None:
        busy, total = _busy_and_total(self._cpu_times())
        ours = self._tree_seconds(solver_pid) if solver_pid is not None else 0.0
        last, self._last = self._last, (busy, total, solver_pid, ours)
        if last is None or total <= last[1]:
            return None
        # A solver that was not there at the previous sample: all its time is new.
        ours_before = last[3] if last[2] == solver_pid else 0.0
        others = (busy - last[0]) - max(0.0, ours - ours_before)
        return min(100.0, max(0.0, 100.0 * others / (total - last[1])))


def available_memory() -> int | None:
    return int(psutil.virtual_memory().available)


@dataclass
class Probes:
    """The facts' sources; a source left None is not looked at (its conditions unused)."""

    clock: Clock = local_now
    idle: IdleSource | None = None
    load: LoadSource | None = None
    memory: MemorySource | None = None

    def facts(self, solver_pid: int | None) -> Facts:
        return Facts(
            now=self.clock(),
            idle_s=self.idle() if self.idle is not None else None,
            other_cpu_percent=self.load(solver_pid) if self.load is not None else None,
            free_memory=self.memory() if self.memory is not None else None,
        )

"""The owner's probes through their seams: a fake user32/kernel32 for GetLastInputInfo
(no Windows machine runs these tests), a fake libX11/libXss, an idle file, CPU-time
counters for the load of other programs."""

from __future__ import annotations

import ctypes
import math
import os
import sys
from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest

from winjobs.worker.probes import (
    IdleKind,
    OtherLoad,
    Probes,
    XScreenSaverInfo,
    available_memory,
    file_idle_source,
    make_idle_source,
    tree_cpu_seconds,
    windows_idle_source,
    x11_idle_source,
)

# --------------------------------------------------------------------------- Windows


class FakeUser32:
    """GetLastInputInfo as Windows answers it: fills the LASTINPUTINFO it is pointed at."""

    def __init__(self, last_input_tick: int, ok: bool = True) -> None:
        self.last_input_tick = last_input_tick
        self.ok = ok
        self.sizes: list[int] = []

    def GetLastInputInfo(self, info: Any) -> int:
        self.sizes.append(info.contents.cbSize)
        info.contents.dwTime = self.last_input_tick
        return 1 if self.ok else 0


class FakeKernel32:
    def __init__(self, tick: int) -> None:
        self.tick = tick

    def GetTickCount(self) -> int:
        return self.tick


def test_windows_idle_time_is_the_ticks_since_the_last_input() -> None:
    user32 = FakeUser32(last_input_tick=4_000)
    idle = windows_idle_source(user32, FakeKernel32(tick=10_500))
    assert idle() == 6.5
    assert user32.sizes == [8]  # cbSize set as the API requires


def test_windows_idle_time_across_the_tick_count_wrap() -> None:
    """GetTickCount wraps after 49.7 days; the last input was just before the wrap."""
    before_wrap = 0xFFFFFFFF - 999  # 1 s before the wrap
    idle = windows_idle_source(FakeUser32(before_wrap), FakeKernel32(tick=2_000))
    assert idle() == 3.0


def test_windows_idle_time_unknown_when_the_call_fails() -> None:
    idle = windows_idle_source(FakeUser32(0, ok=False), FakeKernel32(tick=5))
    assert idle() is None


@pytest.mark.skipif(sys.platform == "win32", reason="checks the refusal off Windows")
def test_windows_idle_source_refuses_off_windows() -> None:
    with pytest.raises(OSError, match="Windows only"):
        windows_idle_source()


# --------------------------------------------------------------------------- X11


class FakeFunction:
    """A C function: callable, with the restype/argtypes attributes ctypes code sets."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any) -> Any:
        self.calls.append(args)
        return self.answer(*args) if callable(self.answer) else self.answer


class FakeLibrary:
    def __init__(self, **functions: Any) -> None:
        for name, answer in functions.items():
            setattr(self, name, FakeFunction(answer))


def fake_x11(idle_ms: int, display: int = 0xD15) -> dict[str, FakeLibrary]:
    info = XScreenSaverInfo()

    def query(display_ptr: int, root: int, pointer: Any) -> int:
        pointer.contents.idle = idle_ms
        return 1

    return {
        "X11": FakeLibrary(XOpenDisplay=display, XDefaultRootWindow=0x123),
        "Xss": FakeLibrary(XScreenSaverAllocInfo=ctypes.pointer(info), XScreenSaverQueryInfo=query),
    }


def test_x11_idle_time_from_the_screensaver_extension() -> None:
    libraries = fake_x11(idle_ms=12_345)
    idle = x11_idle_source(":0", load=libraries.__getitem__)
    assert idle() == 12.345
    assert libraries["X11"].XOpenDisplay.calls == [(b":0",)]  # type: ignore[attr-defined]
    query = libraries["Xss"].XScreenSaverQueryInfo.calls  # type: ignore[attr-defined]
    assert query[0][:2] == (0xD15, 0x123)


def test_x11_without_a_display_or_library_is_refused() -> None:
    with pytest.raises(OSError, match=r"\$DISPLAY is not set"):
        x11_idle_source("", load=fake_x11(0).__getitem__)
    with pytest.raises(OSError, match="cannot open the X11 display"):
        x11_idle_source(":9", load=fake_x11(0, display=0).__getitem__)

    def missing(name: str) -> Any:
        raise OSError(f"lib{name} is not installed")

    with pytest.raises(OSError, match="libX11 is not installed"):
        x11_idle_source(":0", load=missing)


# --------------------------------------------------------------------------- file, choice


def test_the_idle_file_s_age_is_the_idle_time(tmp_path: Path) -> None:
    marker = tmp_path / "owner-active"
    idle = file_idle_source(marker, wall=lambda: 1_000.0)
    assert idle() == math.inf  # nobody was ever active
    marker.touch()
    os.utime(marker, (900.0, 900.0))
    assert idle() == 100.0


def test_which_idle_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert make_idle_source(IdleKind.NONE, None) == (None, "not used (idle_source: none)")
    source, how = make_idle_source(IdleKind.FILE, tmp_path / "f")
    assert source is not None and source() == math.inf
    assert how == f"age of {tmp_path / 'f'} (idle_source: file)"
    if sys.platform != "win32":
        monkeypatch.delenv("DISPLAY", raising=False)
        source, how = make_idle_source(IdleKind.AUTO, None)
        assert source is None
        assert how.startswith("not available (no X11 display ($DISPLAY is not set))")
        with pytest.raises(OSError):  # asked for explicitly: an error, not a fallback
            make_idle_source(IdleKind.X11, None)


# --------------------------------------------------------------------------- load, memory

Times = namedtuple("Times", "user system idle iowait")


class Counters:
    """psutil.cpu_times() and the solver tree's CPU seconds, moved on by the test."""

    def __init__(self) -> None:
        self.busy = 0.0
        self.idle = 0.0
        self.solver = 0.0  #: CPU seconds of the solver tree so far

    def advance(self, busy: float, idle: float, solver: float = 0.0) -> None:
        self.busy += busy
        self.idle += idle
        self.solver += solver

    def cpu_times(self) -> Times:
        return Times(user=self.busy, system=0.0, idle=self.idle, iowait=0.0)

    def load(self) -> OtherLoad:
        return OtherLoad(self.cpu_times, lambda pid: self.solver)


def test_the_load_of_other_programs_leaves_the_solver_out() -> None:
    counters = Counters()
    load = counters.load()
    # 4 cores, 1 s: 3 CPU-s busy, of which the solver's tree used 2
    counters.advance(busy=3.0, idle=1.0, solver=2.0)
    assert load(7) == 25.0
    counters.advance(busy=4.0, idle=0.0, solver=4.0)  # the solver alone, every core
    assert load(7) == 0.0
    counters.advance(busy=1.0, idle=3.0)
    assert load(None) == 25.0  # no solver: everything is somebody else's


def test_a_solver_just_started_is_not_taken_for_another_program() -> None:
    """A new solver's whole CPU time is new: it does not count as others' load (psutil's
    cpu_percent would read 0 for it on a first call and blame the owner)."""
    counters = Counters()
    load = counters.load()
    counters.advance(busy=4.0, idle=0.0, solver=3.9)
    assert load(9) == pytest.approx(2.5)
    counters.advance(busy=2.0, idle=2.0)
    assert load(9) == 50.0


def test_real_counters_give_a_percentage() -> None:
    load = OtherLoad()
    sum(range(200_000))  # some CPU time between the two samples
    value = load(os.getpid())
    assert value is None or 0.0 <= value <= 100.0
    assert tree_cpu_seconds(os.getpid()) > 0
    assert tree_cpu_seconds(2**22 + 12345) == 0.0  # no such process
    assert (available_memory() or 0) > 0


def test_probes_left_out_are_not_looked_at() -> None:
    seen = Probes(clock=lambda: "now", idle=lambda: 42.0).facts(None)  # type: ignore[arg-type,return-value]
    assert (seen.idle_s, seen.other_cpu_percent, seen.free_memory) == (42.0, None, None)


def test_guest_time_is_not_counted_twice() -> None:
    """Linux counts a virtual machine's time in `user` and again in `guest`."""
    linux = namedtuple("linux", "user nice system idle iowait guest guest_nice")
    samples = iter([linux(0, 0, 0, 0, 0, 0, 0), linux(4, 0, 0, 3, 1, 4, 0)])
    load = OtherLoad(lambda: next(samples), lambda pid: 0.0)
    assert load(None) == 50.0  # 4 busy of 8, not of 12

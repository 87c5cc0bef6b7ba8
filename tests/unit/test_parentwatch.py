"""`--parent-pid`: a driver or worker ends once the process that started it is gone."""

from __future__ import annotations

import subprocess
import sys
import threading

import psutil
import pytest

from tests.helpers.waiting import GENEROUS_S, wait_until
from winjobs.parentwatch import FORCED_EXIT, ParentWatch, parent_alive

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def test_the_parent_s_end_is_noticed_and_stops_the_process() -> None:
    parent = subprocess.Popen(SLEEPER)
    gone = threading.Event()
    exits: list[int] = []
    watch = ParentWatch(parent.pid, gone.set, interval_s=0.05, exit_now=exits.append).start()
    try:
        assert not gone.wait(0.3)  # a live parent: nothing happens
        parent.kill()
        parent.wait()
        assert gone.wait(GENEROUS_S), "the parent's end went unnoticed"
    finally:
        watch.stop()
        parent.kill()
    assert exits == []  # it stopped within the grace delay: no forced exit


def test_a_process_that_does_not_stop_in_time_exits_by_force() -> None:
    exited = threading.Event()
    codes: list[int] = []

    def exit_now(code: int) -> None:
        codes.append(code)
        exited.set()

    parent = subprocess.Popen(SLEEPER)
    parent.kill()
    parent.wait()
    ParentWatch(parent.pid, lambda: None, interval_s=0.05, grace_s=0.1, exit_now=exit_now).start()
    assert exited.wait(GENEROUS_S)
    assert codes == [FORCED_EXIT]


def test_a_parent_already_gone_or_reused_counts_as_gone() -> None:
    gone = threading.Event()
    parent = subprocess.Popen(SLEEPER)
    watched = psutil.Process(parent.pid)
    parent.kill()
    parent.wait()
    assert not parent_alive(watched)  # also if another process got its pid since
    ParentWatch(parent.pid, gone.set, grace_s=GENEROUS_S, exit_now=lambda _: None).start()
    assert gone.wait(GENEROUS_S)


@pytest.mark.skipif(sys.platform == "win32", reason="no zombies on Windows")
def test_a_zombie_parent_is_gone() -> None:
    """Dead but not yet reaped by its own parent: gone all the same."""
    parent = subprocess.Popen(SLEEPER)
    try:
        watched = psutil.Process(parent.pid)
        assert parent_alive(watched)
        parent.kill()  # not waited for: a zombie until `parent.wait()`
        wait_until(lambda: watched.status() == psutil.STATUS_ZOMBIE, GENEROUS_S, "a zombie parent")
        assert not parent_alive(watched)
    finally:
        parent.wait()

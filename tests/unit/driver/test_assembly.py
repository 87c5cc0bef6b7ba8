"""The driver's assembly process: steps run in a child, errors come back as they were
raised, a dead child fails one assembly only, and the child never outlives the driver."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from winjobs.driver.assembly import AssemblyCrashed, ProcessAssembler, merge_task_runs
from winjobs.errors import MergeError


@pytest.fixture
def assembler() -> Iterator[ProcessAssembler]:
    process = ProcessAssembler()
    yield process
    process.close()


def test_a_step_runs_in_another_process_and_its_errors_come_back(
    assembler: ProcessAssembler, tmp_path: Path
) -> None:
    child = assembler.run(os.getpid)
    assert child != os.getpid()
    assert assembler.run(os.getpid) == child  # one process for every assembly
    with pytest.raises(MergeError, match="cannot be read"):
        assembler.run(merge_task_runs, tmp_path / "no-study", [tmp_path / "run"], tmp_path / "o")


def test_start_starts_the_child_before_the_first_assembly(assembler: ProcessAssembler) -> None:
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    assembler.start()
    deadline = time.monotonic() + 60
    while not (started := {c.pid for c in psutil.Process().children(recursive=True)} - before):
        assert time.monotonic() < deadline, "no assembly process started"
        time.sleep(0.05)
    assert assembler.run(os.getpid) in started


def test_a_dead_child_fails_its_assembly_and_the_next_one_gets_a_new_child(
    assembler: ProcessAssembler,
) -> None:
    first = assembler.run(os.getpid)
    with pytest.raises(AssemblyCrashed, match="retry the job"):
        assembler.run(os._exit, 9)
    second = assembler.run(os.getpid)
    assert second != first and psutil.pid_exists(second)


@pytest.mark.skipif(sys.platform == "win32", reason="kill -9 is SIGKILL here")
def test_the_child_ends_when_the_driver_is_killed(tmp_path: Path) -> None:
    """A driver killed with -9 leaves no assembly process behind to write into the
    assembly its restarted self redoes."""
    script = textwrap.dedent(
        """
        import os, sys, time
        from winjobs.driver.assembly import ProcessAssembler
        if __name__ == "__main__":
            child = ProcessAssembler().run(os.getpid)
            print(child, flush=True)
            time.sleep(600)
        """
    )
    (tmp_path / "driver.py").write_text(script)
    with subprocess.Popen(
        [sys.executable, str(tmp_path / "driver.py")], stdout=subprocess.PIPE, text=True
    ) as driver:
        assert driver.stdout is not None
        child = int(driver.stdout.readline())
        assert psutil.Process(child).ppid() == driver.pid
        driver.kill()
        driver.wait()
    deadline = time.monotonic() + 30
    while _running(child):
        assert time.monotonic() < deadline, "the assembly process outlived its driver"
        time.sleep(0.05)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_an_idle_child_ends_and_the_next_step_starts_a_new_one() -> None:
    assembler = ProcessAssembler(idle_s=0.3)
    try:
        first = assembler.run(os.getpid)
        deadline = time.monotonic() + 30
        while psutil.pid_exists(first):  # shutdown() joins it: no zombie is left
            assert time.monotonic() < deadline, "the idle assembly process did not end"
            time.sleep(0.05)
        second = assembler.run(os.getpid)
        assert second != first
    finally:
        assembler.close()


def test_a_child_busy_longer_than_the_idle_time_is_not_ended() -> None:
    assembler = ProcessAssembler(idle_s=0.5)
    try:
        child = assembler.run(os.getpid)
        assembler.run(time.sleep, 1.5)  # would raise AssemblyCrashed if the child ended
        assert assembler.run(os.getpid) == child
    finally:
        assembler.close()


def test_the_driver_process_does_not_import_numpy() -> None:
    """numpy (and pandas) are the merge's, in the assembly process: about 20 MB that the
    driver's own process, which never merges, does not hold."""
    probe = "import sys, winjobs.driver.app; print('numpy' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["False"]

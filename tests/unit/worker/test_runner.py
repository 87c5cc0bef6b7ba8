from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psutil
import pytest

from tests.unit.worker.conftest import ScriptFactory
from winjobs.worker.runner import (
    SolverProcess,
    StopReason,
    StopRequest,
    kill_process_tree,
    read_tail,
    solver_environment,
)

PROGRESS = """
import sys, time
print("[t][solver][infos] MC-Years : [1 .. 3], total: 3", flush=True)
for year in range(3):
    time.sleep(0.05)
    print("[t][solver][infos] Exporting the annual results", flush=True)
print("an error line", file=sys.stderr, flush=True)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
"""

#: A solver that starts a child which starts a grandchild, all sleeping; pids to a file.
TREE = """
import subprocess, sys, time
from pathlib import Path
pids = Path(sys.argv[1])
if len(sys.argv) > 2:
    level = int(sys.argv[2])
else:
    level = 0
with pids.open("a") as out:
    out.write(f"{__import__('os').getpid()}\\n")
if level < 2:
    subprocess.Popen([sys.executable, __file__, str(pids), str(level + 1)])
time.sleep(60)
"""

#: A solver whose child starts a grandchild and exits: the grandchild is an orphan.
ORPHAN = """
import os, subprocess, sys, time
from pathlib import Path
pids = Path(sys.argv[1])
role = sys.argv[2] if len(sys.argv) > 2 else "solver"
with pids.open("a") as out:
    out.write(f"{os.getpid()}\\n")
if role == "solver":
    subprocess.run([sys.executable, __file__, str(pids), "middle"])
    time.sleep(60)
elif role == "middle":
    subprocess.Popen([sys.executable, __file__, str(pids), "orphan"])
else:
    time.sleep(60)
"""


def _wait_for_lines(path: Path, count: int, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_text().split()
            if len(lines) >= count:
                return [int(line) for line in lines]
        time.sleep(0.02)
    raise AssertionError(f"{path} never got {count} pids")


def _started_tree(
    make_script: ScriptFactory, tmp_path: Path, name: str = "tree", body: str = TREE
) -> tuple[SolverProcess, list[int]]:
    """A solver that starts two more processes, once all three are up (their pids)."""
    pid_file = tmp_path / "pids"
    run = SolverProcess([str(make_script(name, body)), str(pid_file)], tmp_path / "solver.log")
    run.start()
    return run, _wait_for_lines(pid_file, 3)


def _gone(pids: list[int]) -> bool:
    return not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        for pid in pids
    )


def test_a_finished_run_keeps_its_output_and_exit_code(
    make_script: ScriptFactory, tmp_path: Path
) -> None:
    solver = make_script("solver", PROGRESS)
    log = tmp_path / "logs" / "solver.log"
    run = SolverProcess([str(solver), "7"], log)
    run.start()
    outcome = run.wait(time_limit_s=30, stop=StopRequest())
    assert outcome.exit_code == 7
    assert outcome.stopped is None
    text = log.read_text()
    assert text.count("Exporting the annual results") == 3
    assert "an error line" in text  # stderr goes to the same log
    assert read_tail(log, 2).splitlines() == [
        "[t][solver][infos] Exporting the annual results",
        "an error line",
    ]


def test_the_solver_inherits_the_environment_and_gets_no_shell(
    make_script: ScriptFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WINJOBS_TEST_MARKER", "inherited")
    solver = make_script(
        "env", "import os, sys\nprint(os.environ['WINJOBS_TEST_MARKER'], sys.argv[1:])\n"
    )
    log = tmp_path / "solver.log"
    run = SolverProcess([str(solver), "a b", "$HOME;echo"], log)
    run.start()
    assert run.wait(None, StopRequest()).exit_code == 0
    assert log.read_text().strip() == "inherited ['a b', '$HOME;echo']"


def test_the_solver_runs_in_its_own_session(make_script: ScriptFactory, tmp_path: Path) -> None:
    solver = make_script("sid", "import os\nprint(os.getsid(0))\n")
    run = SolverProcess([str(solver)], tmp_path / "solver.log")
    run.start()
    run.wait(None, StopRequest())
    assert int((tmp_path / "solver.log").read_text()) != os.getsid(0)


def test_a_hanging_solver_is_killed_at_the_time_limit(
    make_script: ScriptFactory, tmp_path: Path
) -> None:
    solver = make_script("tree", TREE)
    pid_file = tmp_path / "pids"
    run = SolverProcess([str(solver), str(pid_file)], tmp_path / "solver.log")
    run.start()
    outcome = run.wait(time_limit_s=1.5, stop=StopRequest())
    pids = [int(p) for p in pid_file.read_text().split()]
    assert outcome.stopped is StopReason.TIME_LIMIT
    assert 1.5 <= outcome.seconds < 8
    assert len(pids) == 3  # solver, child, grandchild were all up
    assert _gone(pids)


def test_a_stop_request_kills_the_whole_tree_quickly(
    make_script: ScriptFactory, tmp_path: Path
) -> None:
    run, pids = _started_tree(make_script, tmp_path)
    stop = StopRequest()
    stop.request(StopReason.CANCELLED)
    stop.request(StopReason.SHUTDOWN)  # the first reason wins
    started = time.monotonic()
    outcome = run.wait(time_limit_s=None, stop=stop)
    assert outcome.stopped is StopReason.CANCELLED
    assert time.monotonic() - started < 3
    assert _gone(pids)


def test_orphaned_grandchildren_are_killed_too(make_script: ScriptFactory, tmp_path: Path) -> None:
    run, pids = _started_tree(make_script, tmp_path, "orphan", ORPHAN)
    orphan = psutil.Process(pids[2])
    assert orphan.ppid() != pids[0]  # really outside the solver's tree
    run.kill()
    assert _gone(pids)


def test_helpers_left_behind_by_a_finished_solver_are_ended(
    make_script: ScriptFactory, tmp_path: Path
) -> None:
    solver = make_script(
        "leaves",
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(p.pid, flush=True)\n",
    )
    log = tmp_path / "solver.log"
    run = SolverProcess([str(solver)], log)
    run.start()
    assert run.wait(None, StopRequest()).exit_code == 0
    helper = int(log.read_text())
    deadline = time.monotonic() + 5
    while not _gone([helper]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone([helper])


def test_killing_a_process_that_is_gone_is_harmless(make_script: ScriptFactory) -> None:
    solver = make_script("quick", "pass\n")
    run = SolverProcess([str(solver)], solver.parent / "log")
    run.start()
    pid = run.pid
    assert pid is not None
    run.wait(None, StopRequest())
    kill_process_tree(pid)
    run.kill()


def test_read_tail(tmp_path: Path) -> None:
    assert read_tail(tmp_path / "missing.log", 5) == ""
    log = tmp_path / "big.log"
    log.write_bytes(b"".join(f"line {i}\n".encode() for i in range(100_000)) + b"\xff end")
    assert read_tail(log, 3).splitlines() == ["line 99998", "line 99999", "\ufffd end"]


def _statuses(pids: list[int]) -> set[str]:
    return {psutil.Process(pid).status() for pid in pids}


def _wait_status(pids: list[int], wanted: set[str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not _statuses(pids) <= wanted:
        if time.monotonic() > deadline:
            raise AssertionError(f"{pids}: {_statuses(pids)}, not {wanted}")
        time.sleep(0.02)


def test_the_whole_tree_is_suspended_and_resumed(
    make_script: ScriptFactory, tmp_path: Path
) -> None:
    run, pids = _started_tree(make_script, tmp_path)
    assert run.suspend() == sorted(pids)
    assert run.suspended
    _wait_status(pids, {psutil.STATUS_STOPPED})
    assert run.suspend() == []  # once is enough
    assert run.resume() == sorted(pids)
    _wait_status(pids, {psutil.STATUS_SLEEPING, psutil.STATUS_RUNNING})
    assert not run.suspended
    run.suspend()
    _wait_status(pids, {psutil.STATUS_STOPPED})
    stop = StopRequest()
    stop.request(StopReason.VACATED, "vacated: keyboard used 1s ago")
    outcome = run.wait(None, stop)  # a suspended tree is killed like any other
    assert (outcome.stopped, stop.detail) == (StopReason.VACATED, "vacated: keyboard used 1s ago")
    assert _gone(pids)


def test_time_spent_suspended_does_not_count_against_the_time_limit(
    make_script: ScriptFactory, tmp_path: Path
) -> None:
    """Suspended past its 2 s limit, then resumed: it finishes instead of being killed
    (the owner's breaks are not the task's slowness)."""
    go = tmp_path / "go"
    solver = make_script(
        "waits",
        "import sys, time\nfrom pathlib import Path\n"
        "while not Path(sys.argv[1]).exists():\n    time.sleep(0.02)\n",
    )
    run = SolverProcess([str(solver), str(go)], tmp_path / "solver.log")
    run.start()
    run.suspend()
    outcomes = []
    waiter = threading.Thread(target=lambda: outcomes.append(run.wait(2.0, StopRequest())))
    waiter.start()
    time.sleep(2.5)  # the scenario: suspended longer than the limit
    assert run.suspended_seconds() >= 2.5
    run.resume()
    go.touch()
    waiter.join(30)
    [outcome] = outcomes
    assert (outcome.stopped, outcome.exit_code) == (None, 0)
    assert outcome.seconds >= 2.5


def test_vacate_kills_a_running_solver_and_spares_the_stop_request(
    make_script: ScriptFactory, tmp_path: Path
) -> None:
    """The owner's policy vacates through the process, not the attempt's stop request: a
    stop request would also cut short the upload of a run that ended a moment before."""
    run, pids = _started_tree(make_script, tmp_path)
    run.suspend()
    run.vacate("vacated: suspended for 10m")
    stop = StopRequest()
    outcome = run.wait(None, stop)
    assert outcome.stopped is StopReason.VACATED and run.vacate_detail.endswith("10m")
    assert not stop.is_set() and _gone(pids)

    quick = SolverProcess([str(make_script("quick", "pass\n"))], tmp_path / "quick.log")
    quick.start()
    assert quick.wait(None, stop).stopped is None
    quick.vacate("vacated: too late")  # ended by itself: nothing to vacate
    assert not stop.is_set()


def test_read_tail_drops_the_colour_codes_the_real_solver_writes(tmp_path: Path) -> None:
    """The real 8.8 solver colours its level tags even into a file; a tail shown in the
    CLI, the dashboard and JSON must read as text."""
    log = tmp_path / "solver.log"
    log.write_bytes(
        b"[2026-12-02 04:05:33][solver][infos] Year(s) 3 4 \n"
        b"[2026-12-02 04:05:33][solver]\x1b[0;31m[fatal]\x1b[0m Year 3 failed at week 19.\n"
    )
    assert read_tail(log, 1) == "[2026-12-02 04:05:33][solver][fatal] Year 3 failed at week 19."


ENVIRONMENT = """
    import os, sys
    print(os.environ.get("TMPDIR"), os.environ.get("TMP"), os.environ.get("TEMP"))
    print(os.environ.get("WINJOBS_TEST_KEPT"))
"""


def test_the_solver_gets_a_temporary_folder_of_its_own(
    make_script: ScriptFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TMPDIR (POSIX), TMP and TEMP (Windows) all name it; the rest of the worker's
    environment is passed on; the folder is made."""
    monkeypatch.setenv("WINJOBS_TEST_KEPT", "yes")
    temp = tmp_path / "task" / "tmp"
    log = tmp_path / "solver.log"
    run = SolverProcess([str(make_script("env", ENVIRONMENT))], log, temp_dir=temp)
    run.start()
    assert run.wait(time_limit_s=30, stop=StopRequest()).exit_code == 0
    assert log.read_text().split("\n")[:2] == [f"{temp} {temp} {temp}", "yes"]
    assert temp.is_dir()


def test_without_a_temporary_folder_the_solver_inherits_the_workers(
    make_script: ScriptFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    log = tmp_path / "solver.log"
    run = SolverProcess([str(make_script("env", ENVIRONMENT))], log)
    run.start()
    assert run.wait(time_limit_s=30, stop=StopRequest()).exit_code == 0
    assert log.read_text().startswith(f"{tmp_path} ")


def test_solver_environment_leaves_the_given_one_alone() -> None:
    base = {"PATH": "/bin", "TMPDIR": "/tmp"}
    assert solver_environment(Path("t"), base) == {
        "PATH": "/bin",
        "TMPDIR": "t",
        "TMP": "t",
        "TEMP": "t",
    }
    assert base == {"PATH": "/bin", "TMPDIR": "/tmp"}

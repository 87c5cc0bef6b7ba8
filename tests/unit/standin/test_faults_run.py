"""Every injected way a run ends badly, and the real solver's deceptive exit 0 on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.standin.conftest import FAST, only_run, python_solver, run_inprocess
from winjobs.antares.output import check_run
from winjobs.standin.faults import (
    CRASH_ENV,
    CRASH_EXIT_STATUS,
    FAIL_YEAR_ENV,
    HANG_ENV,
    PARTIAL_ENV,
    SECONDS_ENV,
)

POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _mc_ind_years(run: Path) -> list[str]:
    folder = run / "economy" / "mc-ind"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_failing_year_exits_1_with_partial_output(small_study: Callable[..., Path]) -> None:
    study = small_study(nbyears=6)
    outcome = run_inprocess([str(study)], {FAIL_YEAR_ENV: "2"})
    assert outcome.status == 1
    assert "[fatal] Year 3 has failed in the previous set of parallel year." in outcome.stdout
    assert outcome.lines[-1].endswith("[error] Aborting now. See logs for more details")
    run = only_run(study)
    assert _mc_ind_years(run) == ["00001", "00002"]
    for absent in ("execution_info.ini", "annualSystemCost.txt", "economy/mc-all"):
        assert not (run / absent).exists(), absent
    log = (run / "simulation.log").read_text().splitlines()
    assert log[-1].endswith("[UI] Quitting the solver gracefully")  # like failures/unfeasible
    assert not any("[fatal]" in line for line in log)
    (full_log,) = (study / "logs").glob("solver-*.log")
    assert "[fatal] Year 3 has failed" in full_log.read_text()


def test_failing_year_outside_the_playlist_is_never_played(
    small_study: Callable[..., Path],
) -> None:
    study = small_study(nbyears=2)
    assert run_inprocess([str(study)], {FAIL_YEAR_ENV: "5"}).status == 0
    assert (only_run(study) / "execution_info.ini").is_file()


def test_crash_exits_without_run_folder(small_study: Callable[..., Path]) -> None:
    study = small_study(nbyears=2)
    outcome = run_inprocess([str(study)], {CRASH_ENV: "1"})
    assert outcome.status == CRASH_EXIT_STATUS
    assert not (study / "output").exists()
    assert "Segmentation fault" in outcome.stderr


def test_partial_exit_zero_after_k_years(small_study: Callable[..., Path]) -> None:
    study = small_study(nbyears=5)
    outcome = run_inprocess([str(study)], {PARTIAL_ENV: "2"})
    assert outcome.status == 0, "the real solver exits 0 when stopped early"
    run = only_run(study)
    assert _mc_ind_years(run) == ["00001", "00002"]
    assert not (run / "execution_info.ini").exists()
    assert not (run / "simulation.log").exists(), "a stopped solver does not copy its log"
    assert "[notic] [signal]" in outcome.stdout
    assert "Quitting the solver gracefully" not in outcome.stdout


def _start(study: Path, **environ: str) -> subprocess.Popen[str]:
    env = {**os.environ, **FAST, **environ}
    return subprocess.Popen(
        [*python_solver(), "--force-parallel=1", str(study)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def _read_until(process: subprocess.Popen[str], text: str, timeout: float = 30.0) -> list[str]:
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    process.kill()
    raise AssertionError(f"{text!r} never printed:\n{''.join(seen[-20:])}")


@POSIX_ONLY
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_exits_0_with_partial_output(
    small_study: Callable[..., Path], sig: signal.Signals
) -> None:
    study = small_study(nbyears=8)
    with _start(study, **{SECONDS_ENV: "0.3"}) as process:
        try:
            _read_until(process, "Year(s) 2 ")  # year 1 is written: its batch is over
            process.send_signal(sig)
            rest, _ = process.communicate(timeout=30)
        finally:
            process.kill()
    assert process.returncode == 0
    assert f"[signal] received signal {sig.name}. Exiting..." in rest
    run = only_run(study)
    assert 1 <= len(_mc_ind_years(run)) < 8
    assert len(list((run / "economy" / "mc-ind" / "00001").rglob("*.txt"))) == 45
    assert not (run / "execution_info.ini").exists()
    verdict = check_run(run, exit_code=0, expected_years=range(8), year_by_year=True,
                        log_text=rest)  # fmt: skip
    assert not verdict.ok, "exit status 0, yet not a success"


@POSIX_ONLY
def test_hang_ignores_sigterm_until_killed(small_study: Callable[..., Path]) -> None:
    study = small_study(nbyears=3)
    with _start(study, **{HANG_ENV: "1"}) as process:
        try:
            _read_until(process, "Year(s) 1")
            time.sleep(0.3)
            process.send_signal(signal.SIGTERM)
            with pytest.raises(subprocess.TimeoutExpired):
                process.wait(timeout=1.0)
            process.kill()
            process.wait(timeout=10)
        finally:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert _mc_ind_years(only_run(study)) == []
    verdict = check_run(only_run(study), exit_code=process.returncode, expected_years=[0, 1, 2],
                        year_by_year=True, log_text="")  # fmt: skip
    assert not verdict.ok

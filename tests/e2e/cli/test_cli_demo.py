"""`winjobs demo` as a newcomer runs it: from nothing to a merged output, then (`--keep`)
a driver that serves until Ctrl-C, after which no process of it is left.

How long the demo takes with its own timing is measured by benchmarks/bench_demo.py, not
asserted here (the test machine is shared); this run makes the stand-in faster.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.e2e.cli.conftest import clean_env, one_error_line, winjobs


def processes_mentioning(text: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(text in part for part in process.info["cmdline"] or []):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """stdout up to the first line starting with `marker` (fails if the process ends first)."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while not any(line.startswith(marker) for line in lines):
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise AssertionError(f"the demo ended ({process.returncode}):\n{''.join(lines)}")
        lines.append(line)
        assert time.monotonic() < deadline, "".join(lines)
    return "".join(lines)


@contextlib.contextmanager
def running_demo(tmp_path: Path, seconds_per_year: str) -> Iterator[subprocess.Popen[str]]:
    """`winjobs demo --keep` in a session of its own; whatever a failed check leaves
    behind (the demo, its driver and workers) is killed at the end."""
    data = tmp_path / "demo"
    env = clean_env(
        WINJOBS_CONFIG=str(tmp_path / "home" / "config.yaml"),
        WINJOBS_STANDIN_SECONDS_PER_YEAR=seconds_per_year,
    )
    # stderr (progress lines) goes to a file: an unread pipe could fill and block the demo
    with (
        (tmp_path / "demo.stderr").open("w") as stderr,
        subprocess.Popen(
            winjobs("demo", "--keep", "--data-dir", str(data)),
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        ) as demo,
    ):
        try:
            yield demo
        finally:
            if demo.poll() is None:
                demo.kill()
                demo.wait()
            for leftover in processes_mentioning(str(data)):
                with contextlib.suppress(psutil.NoSuchProcess):
                    leftover.kill()


@pytest.mark.skipif(sys.platform == "win32", reason="Ctrl-C is sent as SIGINT here")
def test_demo_from_nothing_to_merged_output_then_keep_until_ctrl_c(tmp_path: Path) -> None:
    with running_demo(tmp_path, "0.2") as demo:
        check_demo(demo, tmp_path / "demo", tmp_path)


def check_demo(demo: subprocess.Popen[str], data: Path, tmp_path: Path) -> None:
    text = read_until(demo, "  try ", timeout=150)
    merged = re.search(r"^merged output: (.+)$", text, re.MULTILINE)
    assert merged, text
    run = Path(merged.group(1))
    assert run.parent == data / "demo-study" / "output"
    assert (run / "info.antares-output").is_file()
    years = sorted(p.name for p in (run / "economy" / "mc-ind").iterdir())
    assert years == [f"{y:05d}" for y in range(1, 9)]
    assert re.search(
        r"^8 years in \d+ tasks on 2 workers \(demo-worker-1, demo-worker-2\), .* in all$",
        text,
        re.MULTILINE,
    ), text

    url = re.search(r"dashboard\s+(http://\S+)/", text)
    token = re.search(r"user token\s+(\S+)", text)
    assert url and token, text
    jobs = subprocess.run(
        winjobs("jobs", "--json", "--driver", url.group(1), "--token", token.group(1)),
        env=clean_env(WINJOBS_CONFIG=str(tmp_path / "other.yaml")),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert jobs.returncode == 0, jobs.stderr
    assert [j["status"] for j in json.loads(jobs.stdout)["jobs"]] == ["succeeded"]

    children = psutil.Process(demo.pid).children(recursive=True)
    assert len(children) >= 3  # the driver and two workers
    assert demo.poll() is None  # still serving
    demo.send_signal(signal.SIGINT)
    assert demo.wait(timeout=90) == 0
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []
    assert processes_mentioning(str(data)) == []


def test_demo_refuses_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "precious.txt").write_text("keep me")
    result = subprocess.run(
        winjobs("demo", "--data-dir", str(tmp_path / "busy")),
        env=clean_env(WINJOBS_CONFIG=str(tmp_path / "c.yaml")),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "is not an empty folder" in one_error_line(result)
    assert (tmp_path / "busy" / "precious.txt").read_text() == "keep me"


def test_demo_shows_the_owner_coming_back(tmp_path: Path) -> None:
    """`--owner-active-after`: worker 1's task is suspended, vacated and run by worker 2;
    the job still succeeds, and the summary says what happened."""
    result = subprocess.run(
        winjobs("demo", "--owner-active-after", "0", "--data-dir", str(tmp_path / "demo")),
        env=clean_env(
            WINJOBS_CONFIG=str(tmp_path / "c.yaml"), WINJOBS_STANDIN_SECONDS_PER_YEAR="1"
        ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "the owner of demo-worker-1 came back 0s after its first task started:" in out
    assert re.search(
        r"^  task \d+ \(years [\d-]+\) given back by demo-worker-1: vacated: suspended for \d+s",
        out,
        re.MULTILINE,
    ), out
    assert "  demo-worker-1 now: owner active: keyboard or mouse used" in out
    worker_log = (tmp_path / "demo" / "logs" / "worker-1.log").read_text()
    assert "solver suspended" in worker_log and "vacating" in worker_log


@pytest.mark.skipif(sys.platform == "win32", reason="the demo is killed with SIGKILL here")
def test_a_killed_demo_leaves_no_driver_or_worker_running(tmp_path: Path) -> None:
    """Its children run in sessions of their own (Ctrl-C reaches only the demo): killed
    hard, the demo cannot stop them, so they watch it (`--parent-pid`) and stop."""
    configs = str(tmp_path / "demo" / "config")
    with running_demo(tmp_path, "5") as demo:
        deadline = time.monotonic() + 150
        while len(processes_mentioning(configs)) < 3:  # the driver and two workers
            assert demo.poll() is None, (tmp_path / "demo.stderr").read_text()
            assert time.monotonic() < deadline, (tmp_path / "demo.stderr").read_text()
            time.sleep(0.2)
        children = processes_mentioning(configs)
        demo.kill()
        demo.wait()
        _, alive = psutil.wait_procs(children, timeout=90)
        assert alive == [], [p.cmdline() for p in alive]

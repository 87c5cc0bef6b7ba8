"""`winjobs demo` as a newcomer runs it: from nothing to a merged output, in under a minute,
leaving no process behind; and `--keep`, stopped with Ctrl-C."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
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


def test_demo_runs_the_whole_loop_in_under_a_minute(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    env = clean_env(WINJOBS_CONFIG=str(tmp_path / "home" / "config.yaml"))
    started = time.monotonic()
    result = subprocess.run(
        winjobs("demo", "--data-dir", str(data)),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr + result.stdout
    assert elapsed < 60, f"the demo took {elapsed:.1f} s"
    match = re.search(r"^merged output: (.+)$", result.stdout, re.MULTILINE)
    assert match, result.stdout
    run = Path(match.group(1))
    assert run.parent == data / "demo-study" / "output"
    assert (run / "info.antares-output").is_file()
    years = sorted(p.name for p in (run / "economy" / "mc-ind").iterdir())
    assert years == [f"{y:05d}" for y in range(1, 9)]
    summary = re.search(
        r"^8 years in (\d+) tasks on 2 workers \(demo-worker-1, demo-worker-2\)",
        result.stdout,
        re.MULTILINE,
    )
    assert summary, result.stdout
    assert (data / "logs" / "driver.log").is_file()
    assert processes_mentioning(str(data)) == []


@pytest.mark.skipif(sys.platform == "win32", reason="Ctrl-C is sent as SIGINT here")
def test_demo_keep_serves_until_ctrl_c(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    env = clean_env(
        WINJOBS_CONFIG=str(tmp_path / "home" / "config.yaml"),
        WINJOBS_STANDIN_SECONDS_PER_YEAR="0.1",
    )
    demo = subprocess.Popen(
        winjobs("demo", "--keep", "--workers", "1", "--data-dir", str(data)),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert demo.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 90
        while not any(line.startswith("  try ") for line in lines):
            line = demo.stdout.readline()
            assert line or demo.poll() is None, "".join(lines) + (
                demo.stderr.read() if demo.stderr else ""
            )
            lines.append(line)
            assert time.monotonic() < deadline, "".join(lines)
        text = "".join(lines)
        url = re.search(r"dashboard\s+(http://\S+)/", text)
        token = re.search(r"user token\s+(\S+)", text)
        assert url and token, text
        assert "1 workers (demo-worker-1)" in text
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
        assert len(children) >= 2
        time.sleep(0.5)
        assert demo.poll() is None  # still serving
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=60) == 0
        _, alive = psutil.wait_procs(children, timeout=10)
        assert alive == []
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


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

"""The pool's settings (every bad key named) and the pilot job they produce: its batch
script, run here by bash with Slurm's variables and a recording `winjobs`."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from winjobs.errors import ConfigError
from winjobs.slurm.script import pilot_script, write_pilot_files
from winjobs.slurm.settings import SlurmSettings, load_settings, time_limit_seconds

WORKER = {"solvers": {"8.8": "/opt/antares-8.8/bin/antares-8.8-solver"}}


def settings(**values: Any) -> SlurmSettings:
    return load_settings(None, {"token": "pool-secret", "worker": WORKER, **values})


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("WINJOBS_SLURM_", "WINJOBS_WORKER_")):
            monkeypatch.delenv(key)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 5400), ("1:30", 90), ("2:00:00", 7200), ("1-0", 86400), ("1-2:30", 95400),
     ("0-0:0:45", 45)],
)  # fmt: skip
def test_slurm_time_limits(text: str, seconds: int) -> None:
    assert time_limit_seconds(text) == seconds


def test_every_bad_key_is_named_at_once(tmp_path: Path) -> None:
    config = tmp_path / "pool.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "token": "t",
                "pool": "my pool",
                "partition": "a b",
                "time_limit": "soon",
                "memory": "lots",
                "max_pilots": 0,
                "sbatch_options": ["--exclusive", "--time=5", "oops"],
                "scratch_dir": '/scratch/"x"',
                "worker": {"solver": {"8.8": "/x"}, "name": "n", "cores": 4, "transfer": "ftp"},
                "partitions": "typo",
            }
        )
    )
    with pytest.raises(ConfigError) as bad:
        load_settings(config)
    message = str(bad.value)
    assert message.startswith(f"invalid Slurm pool settings (config file {config}): ")
    for expected in (
        "`pool`: String should match pattern",
        "`partition`: Value error, 'a b': no spaces",
        "`time_limit`: Value error, 'soon' is not a Slurm time limit",
        "`memory`: Value error, 'lots' is not a Slurm memory size",
        "`max_pilots`: Input should be greater than or equal to 1",
        "--time is written by the manager: set `time_limit`",
        "'oops' is not one sbatch option",
        "`scratch_dir`: Value error",
        "`worker.name` is set by the pool manager",
        "`worker.cores` is set by the pool manager",
        "`worker.solvers` is required",
        "unknown key `worker.solver`",
        "`worker.transfer`: Input should be 'http' or 'shared'",
        "unknown key `partitions`",
    ):
        assert expected in message, expected
    assert "'--exclusive'" not in message  # a good option is not blamed


def test_the_drain_margin_must_leave_time_to_work() -> None:
    with pytest.raises(ConfigError, match=r"drain_margin_s \(600 s\) must be shorter"):
        settings(time_limit="10")
    assert settings(time_limit="10", drain_margin_s=60).time_limit_s == 600


def test_shared_mode_templates_are_checked_like_a_workers() -> None:
    with pytest.raises(ConfigError, match="transfer: shared needs shared_output_dir"):
        settings(worker={**WORKER, "transfer": "shared"})


def _fake_bin(folder: Path, name: str, body: str) -> None:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.mark.skipif(sys.platform == "win32", reason="pilot scripts run in bash on Linux nodes")
def test_the_pilot_script_runs_a_worker_with_its_allocation(tmp_path: Path) -> None:
    """bash runs the script as a node would, with Slurm's variables, a `squeue` that
    prints the job's end and a recording stand-in for `python -m winjobs`."""
    bin_dir = tmp_path / "bin"
    _fake_bin(bin_dir, "squeue", 'echo "2026-12-02T06:00:05"')
    record = tmp_path / "argv.txt"
    _fake_bin(
        bin_dir, "fake-winjobs",
        f'for a in "$@"; do echo "$a" >> {record}; done; '
        f'echo "out=$WINJOBS_WORKER_SHARED_OUTPUT_DIR root=$WINJOBS_WORKER_SHARED_OUTPUT_ROOT"'
        f' >> {record}; mkdir -p "$9/cache"; exit 3',
    )  # fmt: skip
    pool = settings(
        pool="hpc",
        data_dir=tmp_path / "manager",
        scratch_dir=str(tmp_path / "scratch"),
        partition="long",
        account="proj-7",
        qos="normal",
        memory="16G",
        cores=8,
        sbatch_options=["--constraint=skylake", "--exclusive"],
        drain_margin_s=900,
        worker={
            **WORKER,
            "transfer": "shared",
            "shared_output_dir": "/cluster/winjobs/out",
            "shared_output_root": r"C:\links\HPC\out",
            "driver_url": "http://10.0.0.5:8000",
        },
        worker_command=[str(bin_dir / "fake-winjobs")],
    )
    script, config = write_pilot_files(pool)
    text = script.read_text()
    for line in (
        "#SBATCH --job-name=winjobs-hpc",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --time=2:00:00",
        f"#SBATCH --output={tmp_path / 'manager' / 'pilots' / '%j.out'}",
        "#SBATCH --partition=long",
        "#SBATCH --account=proj-7",
        "#SBATCH --qos=normal",
        "#SBATCH --mem=16G",
        "#SBATCH --constraint=skylake",
        "#SBATCH --exclusive",
    ):
        assert f"\n{line}\n" in text, line
    assert stat.S_IMODE(config.stat().st_mode) == 0o600  # it holds the token
    assert yaml.safe_load(config.read_text()) == {
        **pool.worker,
        "driver_url": "http://10.0.0.5:8000",  # the nodes' way to the driver
        "token": "pool-secret",
    }
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SLURM_JOB_ID": "4242",
        "SLURMD_NODENAME": "node07",
        "SLURM_CPUS_ON_NODE": "16",
    }
    ran = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    assert ran.returncode == 3, ran.stderr  # the worker's exit status is the job's
    data = tmp_path / "scratch" / "winjobs-hpc-4242-node07"
    assert record.read_text().splitlines() == [
        "worker", "--config", str(config), "--name", "hpc-4242-node07", "--cores", "16",
        "--data-dir", str(data), "--exit-when-idle", "--drain-margin", "900",
        "--deadline", "2026-12-02T06:00:05",
        r"out=/cluster/winjobs/out/hpc-4242-node07 root=C:\links\HPC\out\hpc-4242-node07",
    ]  # fmt: skip
    assert (tmp_path / "scratch").is_dir() and not data.exists()  # its scratch went
    assert "winjobs pilot hpc-4242-node07: 16 cores" in ran.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="pilot scripts run in bash on Linux nodes")
def test_without_a_known_end_the_pilot_has_no_deadline(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    _fake_bin(bin_dir, "squeue", 'echo "N/A"')
    record = tmp_path / "argv.txt"
    _fake_bin(bin_dir, "fake-winjobs", f'echo "$@" > {record}')
    pool = settings(data_dir=tmp_path / "m", worker_command=[str(bin_dir / "fake-winjobs")])
    script = pilot_script(pool, tmp_path / "w.yaml")
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_ID": "7"}
    ran = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert "--deadline" not in record.read_text()
    assert "--cores 1" in record.read_text()  # no SLURM_CPUS_ON_NODE: one core


@pytest.mark.skipif(sys.platform == "win32", reason="pilot scripts run in bash on Linux nodes")
def test_the_pilot_script_passes_a_stop_on_and_waits_for_its_worker(tmp_path: Path) -> None:
    """Slurm ends a job by signalling its processes and tracks them by their parents: the
    script must neither die before its worker (an orphaned worker escapes the tracking
    and outlives the job) nor keep the signal from it."""
    bin_dir = tmp_path / "bin"
    _fake_bin(bin_dir, "squeue", 'echo "N/A"')
    record = tmp_path / "record.txt"
    _fake_bin(
        bin_dir, "fake-winjobs",
        f"trap 'echo TERM >> {record}; sleep 0.5; echo done >> {record}; exit 5' TERM; "
        f'mkdir -p "$9"; echo started >> {record}; while :; do sleep 0.05; done',
    )  # fmt: skip
    pool = settings(
        data_dir=tmp_path / "m",
        scratch_dir=str(tmp_path / "scratch"),
        worker_command=[str(bin_dir / "fake-winjobs")],
    )
    script, _ = write_pilot_files(pool)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_ID": "9"}
    pilot = subprocess.Popen(["bash", str(script)], env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not (record.exists() and "started" in record.read_text()):
        assert time.monotonic() < deadline and pilot.poll() is None, "the worker never started"
        time.sleep(0.05)
    pilot.send_signal(signal.SIGTERM)  # to the script only
    assert pilot.wait(30) == 5  # it waited for the worker, whose status it returns
    assert record.read_text().splitlines() == ["started", "TERM", "done"]
    assert list((tmp_path / "scratch").iterdir()) == []  # its data folder went

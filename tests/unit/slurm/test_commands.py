"""Slurm's commands as the pool manager calls them: argument lists, parsed output, and
Slurm's own messages on failure. A recording runner stands in for the subprocesses."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from winjobs.errors import ConfigError
from winjobs.slurm.commands import SlurmCommands, SlurmError, find_commands, parse_squeue_line

BINS = {"sbatch": "/usr/bin/sbatch", "squeue": "/usr/bin/squeue", "scancel": "/usr/bin/scancel"}


class Runner:
    """Answers each command with the next canned result; records the argument lists."""

    def __init__(self, *answers: tuple[int, str, str] | BaseException) -> None:
        self.answers = list(answers)
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(argv)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        code, out, err = answer
        return subprocess.CompletedProcess(argv, code, out, err)


def test_submit_reads_the_parsable_job_id(tmp_path: Path) -> None:
    runner = Runner((0, "1234\n", ""), (0, "77;cluster-b\n", ""))
    slurm = SlurmCommands(BINS, runner)
    assert slurm.submit(tmp_path / "pilot.sbatch") == "1234"
    assert slurm.submit(tmp_path / "pilot.sbatch") == "77"  # federated / multi-cluster
    assert runner.calls[0] == ["/usr/bin/sbatch", "--parsable", str(tmp_path / "pilot.sbatch")]


def test_a_refusal_carries_slurms_own_message(tmp_path: Path) -> None:
    stderr = (
        "sbatch: error: invalid partition specified: nope\n"
        "sbatch: error: Batch job submission failed: Invalid partition name specified\n"
    )
    with pytest.raises(SlurmError) as refused:
        SlurmCommands(BINS, Runner((1, "", stderr))).submit(tmp_path / "s")
    assert str(refused.value) == (
        "sbatch: error: invalid partition specified: nope; "
        "sbatch: error: Batch job submission failed: Invalid partition name specified"
    )
    assert not refused.value.transient


@pytest.mark.parametrize(
    ("answer", "message", "transient"),
    [
        ((1, "", "squeue: error: Unable to contact slurm controller (connect failure)\n"),
         "squeue: error: Unable to contact slurm controller (connect failure)", True),
        ((1, "", ""), "squeue exited with status 1", False),
        (subprocess.TimeoutExpired(["squeue"], 60), "squeue timed out after 60 s", True),
        (FileNotFoundError(2, "No such file or directory"), "cannot run /usr/bin/squeue", False),
    ],
)  # fmt: skip
def test_failures_become_slurm_errors(
    answer: tuple[int, str, str] | BaseException, message: str, transient: bool
) -> None:
    with pytest.raises(SlurmError) as failed:
        SlurmCommands(BINS, Runner(answer)).jobs("winjobs-hpc")
    assert str(failed.value).startswith(message)
    assert failed.value.transient is transient


def test_jobs_lists_this_users_jobs_of_the_pool_ended_ones_included() -> None:
    out = (
        "12|PENDING|Priority||2026-12-02T04:07:00|N/A|N/A|8\n"
        "11|RUNNING|None|node07|2026-12-02T04:00:00|2026-12-02T04:00:05|2026-12-02T06:00:05|8\n"
        "9|CANCELLED by 0|None|node03|2026-12-02T03:00:00|2026-12-02T03:00:01|"
        "2026-12-02T03:10:00|8\n"
        "garbage line\n"
    )  # fmt: skip
    runner = Runner((0, out, ""))
    pending, running, cancelled = SlurmCommands(BINS, runner).jobs("winjobs-hpc")
    assert runner.calls[0] == [
        "/usr/bin/squeue", "--me", "--noheader", "--states=all", "--name=winjobs-hpc",
        "--format=%i|%T|%r|%N|%V|%S|%e|%C",
    ]  # fmt: skip
    assert (pending.job_id, pending.state, pending.reason, pending.node) == (
        "12", "PENDING", "Priority", None,
    )  # fmt: skip
    assert pending.started_at is None and pending.ends_at is None and not pending.final
    assert (running.state, running.reason, running.node, running.cores) == (
        "RUNNING", None, "node07", 8,
    )  # fmt: skip
    assert running.ends_at == datetime(2026, 12, 2, 6, 0, 5).astimezone()  # local time
    assert cancelled.state == "CANCELLED" and cancelled.final


def test_parse_squeue_line_ignores_what_is_not_a_job() -> None:
    assert parse_squeue_line("") is None
    assert parse_squeue_line("a|b|c") is None
    job = parse_squeue_line("5|RUNNING|None|n1|Unknown|Unknown|Unknown|x")
    assert job is not None and job.started_at is None and job.cores == 0


def test_cancel_and_test_submit(tmp_path: Path) -> None:
    runner = Runner(
        (0, "", ""),
        (0, "", "sbatch: Job 5 to start at 2026-12-02T04:13:44 using 8 processors\n"),
        (1, "", "allocation failure: Invalid partition name specified\n"),
    )
    slurm = SlurmCommands(BINS, runner)
    slurm.cancel([])  # nothing to cancel: no command at all
    slurm.cancel(["12", "13"])
    assert runner.calls == [["/usr/bin/scancel", "12", "13"]]
    assert slurm.test_submit(tmp_path / "s").startswith("sbatch: Job 5 to start")
    with pytest.raises(SlurmError, match="Invalid partition name"):
        slurm.test_submit(tmp_path / "s")


def test_missing_commands_are_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "sbatch").write_text("#!/bin/sh\n")
    (tmp_path / "sbatch").chmod(0o755)
    with pytest.raises(ConfigError, match=r"Slurm's squeue, scancel not found in .*slurm_bin_dir"):
        find_commands(tmp_path)

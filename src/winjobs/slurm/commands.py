"""Slurm through its own commands: `sbatch --parsable`, `squeue` formatted output, `scancel`.

Why the commands and not `squeue --json` or slurmrestd: the commands are there on every
login node, in every Slurm version our users meet, and their `--format` fields have not
changed in a decade, while the JSON layout changed with every OpenAPI plugin version
(22.05's v0.0.38 has plain numbers and strings where 23.02's v0.0.39 has objects and
lists). slurmrestd is seldom open to users.

Every call is an argument list (no shell) with a timeout; a command that fails raises
`SlurmError` with Slurm's own message (the `sbatch: error: ...` lines), which the pool
manager logs and retries: nothing here ends the manager.

`Slurm` is the small interface the manager needs; `SlurmCommands` is the real one, and
unit tests pass a fake.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from winjobs.errors import ConfigError, WinjobsError

#: How long one Slurm command may take (slurmctld answers within its MessageTimeout).
COMMAND_TIMEOUT_S = 60.0
#: `squeue --format`: job id, state, reason, nodes, submit, start and end times, CPUs.
SQUEUE_FORMAT = "%i|%T|%r|%N|%V|%S|%e|%C"
#: Words of Slurm's errors that mean "the controller is unreachable for now".
TRANSIENT_WORDS = (
    "unable to contact slurm controller",
    "socket timed out",
    "temporarily unavailable",
    "connection refused",
    "timed out after",
    "slurm_persist_conn",
)
#: States of a job that has left for good (it may linger in `squeue -t all` a few minutes).
FINAL_STATES = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "REVOKED",
        "SPECIAL_EXIT",
        "TIMEOUT",
    }
)


class SlurmError(WinjobsError):
    """A Slurm command failed; the message is Slurm's own."""

    @property
    def transient(self) -> bool:
        """The controller could not be reached: worth trying again as is."""
        text = str(self).lower()
        return any(word in text for word in TRANSIENT_WORDS)


@dataclass(frozen=True)
class SlurmJob:
    """One line of `squeue`, as the pool manager reads it."""

    job_id: str
    state: str  #: PENDING, RUNNING, COMPLETING, COMPLETED, TIMEOUT... (Slurm's words)
    reason: str | None = None  #: Priority, Resources, ... (None when Slurm says "None")
    node: str | None = None
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    ends_at: datetime | None = None
    cores: int = 0

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


class Slurm(Protocol):
    """What the pool manager asks of Slurm."""

    def submit(self, script: Path) -> str:
        """Submit a batch script; its job id."""
        ...

    def test_submit(self, script: Path) -> str:
        """What Slurm would do with the script (`sbatch --test-only`), submitting nothing."""
        ...

    def jobs(self, name: str) -> list[SlurmJob]:
        """This user's jobs of that name, the recently ended ones included."""
        ...

    def cancel(self, job_ids: Sequence[str]) -> None: ...


Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )


def find_commands(bin_dir: Path | None) -> dict[str, str]:
    """Paths of sbatch, squeue and scancel, from `bin_dir` or PATH; ConfigError if absent."""
    found: dict[str, str] = {}
    missing: list[str] = []
    for name in ("sbatch", "squeue", "scancel"):
        path = shutil.which(name, path=str(bin_dir) if bin_dir is not None else None)
        if path is None:
            missing.append(name)
        else:
            found[name] = path
    if missing:
        where = f"in {bin_dir}" if bin_dir is not None else "on PATH"
        raise ConfigError(
            f"Slurm's {', '.join(missing)} not found {where}: run `winjobs slurm` where "
            "Slurm's commands work (a login node), or set slurm_bin_dir"
        )
    return found


class SlurmCommands:
    """The real Slurm: its commands as subprocesses (`run` is injectable for tests)."""

    def __init__(self, commands: dict[str, str], run: Runner = _run) -> None:
        self.commands = commands
        self._run = run

    def _call(self, argv: list[str]) -> str:
        try:
            result = self._run(argv)
        except subprocess.TimeoutExpired as exc:
            raise SlurmError(f"{Path(argv[0]).name} timed out after {exc.timeout:.0f} s") from exc
        except OSError as exc:
            raise SlurmError(f"cannot run {argv[0]}: {exc}") from exc
        if result.returncode != 0:
            raise SlurmError(_message(result, argv))
        return result.stdout

    def submit(self, script: Path) -> str:
        out = self._call([self.commands["sbatch"], "--parsable", str(script)])
        job_id = out.strip().split(";", 1)[0]  # `ID` or `ID;cluster`
        if not job_id:
            raise SlurmError(f"sbatch printed no job id for {script}")
        return job_id

    def test_submit(self, script: Path) -> str:
        argv = [self.commands["sbatch"], "--test-only", str(script)]
        try:
            result = self._run(argv)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SlurmError(f"sbatch --test-only failed: {exc}") from exc
        if result.returncode != 0:
            raise SlurmError(_message(result, argv))
        return (result.stderr or result.stdout).strip()  # "sbatch: Job 5 to start at ..."

    def jobs(self, name: str) -> list[SlurmJob]:
        out = self._call(
            [
                self.commands["squeue"],
                "--me",
                "--noheader",
                "--states=all",
                f"--name={name}",
                f"--format={SQUEUE_FORMAT}",
            ]
        )
        return [job for line in out.splitlines() if (job := parse_squeue_line(line))]

    def cancel(self, job_ids: Sequence[str]) -> None:
        if job_ids:
            self._call([self.commands["scancel"], *job_ids])


def _message(result: subprocess.CompletedProcess[str], argv: list[str]) -> str:
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines()]
    text = "; ".join(line for line in lines if line)
    return text or f"{Path(argv[0]).name} exited with status {result.returncode}"


def _time(text: str) -> datetime | None:
    """Slurm's `2026-12-02T04:08:00` (local time) -> aware datetime; N/A, Unknown -> None."""
    try:
        return datetime.fromisoformat(text).astimezone()
    except ValueError:
        return None


def parse_squeue_line(line: str) -> SlurmJob | None:
    """One `SQUEUE_FORMAT` line -> SlurmJob; None for a line that is not one."""
    fields = line.strip().split("|")
    if len(fields) != 8 or not fields[0]:
        return None
    job_id, state, reason, node, submitted, started, ends, cpus = fields
    return SlurmJob(
        job_id=job_id,
        state=state.split()[0].rstrip("+") if state else "UNKNOWN",  # "CANCELLED by 0"
        reason=None if reason in ("", "None", "(null)") else reason,
        node=node or None,
        submitted_at=_time(submitted),
        started_at=_time(started) if state not in ("PENDING",) else None,
        ends_at=_time(ends) if state not in ("PENDING",) else None,
        cores=int(cpus) if cpus.isdigit() else 0,
    )

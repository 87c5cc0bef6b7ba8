"""The pool manager's configuration: a YAML file, `WINJOBS_SLURM_*` variables, flags.

Everything is checked at start-up, every bad key named in one line, before a single
pilot is submitted: a typo found by fifty failed pilot jobs an hour later costs the
cluster's time and the queue's. The worker template (`worker:`) is checked with the
worker's own settings schema, so a pilot starts on the same rules as any worker.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import SettingsConfigDict

from winjobs.configfiles import DriverUrl, LayeredSettings, Token, describe_errors
from winjobs.logfiles import LogLevel
from winjobs.wire import POOL_NAME_PATTERN, Transfer
from winjobs.worker.settings import WorkerSettings

ENV_PREFIX = "WINJOBS_SLURM_"

#: Worker keys each pilot gets from the manager, never from the template.
PILOT_KEYS = {
    "token": "the pool's token is given to its pilots",
    "name": "pilots are named <pool>-<Slurm job id>-<node>",
    "cores": "pilots use their allocation's cores (SLURM_CPUS_ON_NODE)",
    "data_dir": "pilots keep their data on the node's scratch (scratch_dir)",
    "deadline": "pilots read it from their Slurm job's end time",
    "drain_margin_s": "set the pool's drain_margin_s",
}
#: sbatch options the manager writes itself, and the setting that holds each.
OWN_OPTIONS = {
    "--job-name": "pool",
    "-J": "pool",
    "--output": "data_dir",
    "-o": "data_dir",
    "--error": "data_dir",
    "-e": "data_dir",
    "--partition": "partition",
    "-p": "partition",
    "--account": "account",
    "-A": "account",
    "--qos": "qos",
    "-q": "qos",
    "--time": "time_limit",
    "-t": "time_limit",
    "--cpus-per-task": "cores",
    "-c": "cores",
    "--mem": "memory",
    "--nodes": "(one node per pilot)",
    "-N": "(one node per pilot)",
    "--ntasks": "(one task per pilot)",
    "-n": "(one task per pilot)",
    "--array": "(one job per pilot)",
    "-a": "(one job per pilot)",
}
_TIME_LIMIT = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")
_MEMORY = re.compile(r"^\d+[KMGT]?$")
_SLURM_NAME = re.compile(r"^[^\s#'\"\\`$]+$")


def time_limit_seconds(text: str) -> int:
    """Slurm's time formats -> seconds: `minutes`, `minutes:seconds`, `hours:minutes:
    seconds`, `days-hours`, `days-hours:minutes`, `days-hours:minutes:seconds`."""
    match = _TIME_LIMIT.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a Slurm time limit (e.g. 120, 2:00:00, 1-12:00:00)")
    days, first, second, third = match.groups()
    numbers = [int(part) for part in (first, second, third) if part is not None]
    if days is not None:  # days-hours[:minutes[:seconds]]
        hours, minutes, seconds = [*numbers, 0, 0][:3]
        return ((int(days) * 24 + hours) * 60 + minutes) * 60 + seconds
    if len(numbers) == 1:
        return numbers[0] * 60
    if len(numbers) == 2:
        return numbers[0] * 60 + numbers[1]
    return (numbers[0] * 60 + numbers[1]) * 60 + numbers[2]


def _default_command() -> list[str]:
    """This very winjobs: the interpreter running the manager (a shared installation)."""
    return [sys.executable, "-m", "winjobs"]


class SlurmSettings(LayeredSettings):
    """Every key of `winjobs slurm`; the YAML keys are the field names (docs/slurm.md)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    #: The driver, as the manager reaches it (pilots too, unless `worker.driver_url`).
    driver_url: DriverUrl = "http://127.0.0.1:8000"
    #: A worker token of the driver: the manager reads the queue with it and hands it to
    #: its pilots.
    token: Token = Field(description="a worker token from the driver's config")
    #: The pool's name: its Slurm jobs are `winjobs-<pool>`, its pilots' workers
    #: `<pool>-<job id>-<node>`, and the driver shows the pool under it.
    pool: str = Field("slurm", pattern=POOL_NAME_PATTERN)
    #: The manager's folder: its log, the pilot script and worker config, the pilots'
    #: output files. It must be visible from the nodes (a shared home or project folder).
    data_dir: Path = Path("data/slurm")

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    #: Wall-clock limit of each pilot job, in Slurm's format.
    time_limit: str = "2:00:00"
    #: Cores per pilot (`--cpus-per-task`); the worker uses what Slurm allocates.
    cores: int = Field(8, ge=1)
    #: Memory per pilot (`--mem`, Slurm's format: 16G, 64000M); none: the partition's default.
    memory: str | None = None
    #: The most pilots in Slurm at once (pending and running).
    max_pilots: int = Field(4, ge=1, le=10000)
    #: More `#SBATCH` options, one per item: `--constraint=skylake`, `--exclusive`...
    sbatch_options: list[str] = Field(default_factory=list)
    #: Node-local folder for a pilot's data (its study cache and task folders), expanded
    #: by the pilot's shell on the node.
    scratch_dir: str = "${TMPDIR:-/tmp}"
    #: A pilot claims no task later than this before its time limit ends: the longest task
    #: it may still have to finish.
    drain_margin_s: float = Field(600.0, ge=0)
    #: A pilot that runs this long without registering with the driver is cancelled (it
    #: cannot reach the driver, or its worker cannot start).
    register_timeout_s: float = Field(300.0, gt=0)
    #: The pilots' worker settings (docs/worker.md): `solvers` (the cluster's Antares
    #: installation), shared mode keys, `claim_wait_s` (how long an idle pilot waits for
    #: work before it ends)...
    worker: dict[str, Any] = Field(description="the pilots' worker settings")
    #: How a node starts winjobs; default: the interpreter running this manager.
    worker_command: list[str] = Field(default_factory=_default_command, min_length=1)

    #: How often the manager looks at the queue and at Slurm.
    poll_interval_s: float = Field(15.0, ge=0.1)
    #: Backoff after Slurm refused a pilot (or pilots failed at start): first and longest.
    retry_initial_s: float = Field(30.0, gt=0)
    retry_max_s: float = Field(900.0, gt=0)
    #: Folder of sbatch, squeue and scancel when they are not on PATH.
    slurm_bin_dir: Path | None = None

    log_level: LogLevel = "info"
    log_file_max_bytes: int = Field(10 * 1024**2, ge=1024)
    log_file_backups: int = Field(5, ge=0)

    @field_validator("partition", "account", "qos")
    @classmethod
    def _slurm_name(cls, value: str | None) -> str | None:
        if value is not None and not _SLURM_NAME.match(value):
            raise ValueError(f"{value!r}: no spaces, quotes, '#', '$' or '\\'")
        return value

    @field_validator("time_limit")
    @classmethod
    def _time_limit(cls, value: str) -> str:
        if time_limit_seconds(value) <= 0:
            raise ValueError("must be longer than 0")
        return value.strip()

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        if value is not None and not _MEMORY.match(value.strip()):
            raise ValueError(f"{value!r} is not a Slurm memory size (e.g. 16G, 64000M)")
        return value.strip() if value is not None else None

    @field_validator("sbatch_options")
    @classmethod
    def _sbatch_options(cls, value: list[str]) -> list[str]:
        problems = []
        for option in value:
            name = option.split("=", 1)[0].split()[0] if option.strip() else ""
            if not option.startswith("-") or "\n" in option or "\r" in option:
                problems.append(f"{option!r} is not one sbatch option (e.g. --exclusive)")
            elif name in OWN_OPTIONS:
                problems.append(f"{name} is written by the manager: set `{OWN_OPTIONS[name]}`")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("scratch_dir")
    @classmethod
    def _scratch_dir(cls, value: str) -> str:
        if not value.strip() or any(c in value for c in '"`\n\r'):
            raise ValueError("a folder (shell variables allowed), without quotes or backquotes")
        return value.strip()

    @field_validator("worker")
    @classmethod
    def _worker_template(cls, value: dict[str, Any]) -> dict[str, Any]:
        problems = [
            f"`worker.{key}` is set by the pool manager: {why}"
            for key, why in PILOT_KEYS.items()
            if key in value
        ]
        try:
            pilot_worker_settings(value, "http://driver.invalid", "token")
        except ValidationError as exc:
            problems.append(describe_errors(exc, key_prefix="worker."))
        if problems:
            raise PydanticCustomError("worker_template", "; ".join(problems))
        return value

    @model_validator(mode="after")
    def _margin_within_limit(self) -> SlurmSettings:
        if self.drain_margin_s >= self.time_limit_s:
            raise ValueError(
                f"drain_margin_s ({self.drain_margin_s:g} s) must be shorter than "
                f"time_limit ({self.time_limit} = {self.time_limit_s} s), or no pilot "
                "would ever claim a task"
            )
        return self

    # ------------------------------------------------------------------ derived

    @property
    def job_name(self) -> str:
        """The Slurm job name of this pool's pilots (how the manager finds them again)."""
        return f"winjobs-{self.pool}"

    @property
    def time_limit_s(self) -> int:
        return time_limit_seconds(self.time_limit)

    @property
    def pilots_dir(self) -> Path:
        """The pilots' Slurm output files (`<job id>.out`), one per pilot."""
        return self.data_dir / "pilots"

    @property
    def cluster_versions(self) -> list[str]:
        """The Antares versions the cluster's solvers run (keys of `worker.solvers`)."""
        return sorted(str(version) for version in self.worker.get("solvers", {}))

    @property
    def shared(self) -> bool:
        return str(self.worker.get("transfer", Transfer.HTTP.value)) == Transfer.SHARED.value

    def pilot_worker_url(self) -> str:
        """The driver as the pilots reach it (compute nodes may see it elsewhere)."""
        return str(self.worker.get("driver_url") or self.driver_url)


def pilot_worker_settings(
    template: Mapping[str, Any], driver_url: str, token: str
) -> WorkerSettings:
    """The template as a pilot's worker reads it; pydantic's ValidationError if invalid.

    The per-pilot keys (name, cores, data folder) get placeholders: they come from the
    pilot's allocation, on the node."""
    values = {
        "driver_url": driver_url,
        **{key: value for key, value in template.items() if key not in PILOT_KEYS},
        "token": token,
        "name": "pilot",
        "cores": 1,
        "data_dir": Path("pilot"),
    }
    return WorkerSettings.from_mapping(values)


def load_settings(
    config_file: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> SlurmSettings:
    """Settings from `config_file`, the environment and `overrides` (flags, None = unset).

    Raises `ConfigError` (exit status 2) naming every bad key."""
    return SlurmSettings.load(config_file, overrides, what="Slurm pool settings")

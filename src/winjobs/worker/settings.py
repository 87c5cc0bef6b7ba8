"""The worker's configuration: a YAML file, `WINJOBS_WORKER_*` environment variables, flags.

Precedence, highest first: command-line flags, environment variables, the YAML file,
defaults. Everything is validated once at start-up so that a typo stops the worker with a
message naming the key, instead of surfacing inside the first task an hour later.

The `WINJOBS_WORKER_` prefix (like the driver's `WINJOBS_DRIVER_`): driver, worker and user
CLI often share a machine and an environment, and keys such as `token` and `data_dir`
exist on several of them.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import psutil
from pydantic import AfterValidator, ByteSize, Field, field_validator, model_validator
from pydantic_settings import (
    SettingsConfigDict,
)

from winjobs.configfiles import DriverUrl, LayeredSettings, Token
from winjobs.logfiles import LogLevel
from winjobs.wire import Transfer
from winjobs.worker.policy import Policy, parse_window, windows_from
from winjobs.worker.probes import IdleKind

ENV_PREFIX = "WINJOBS_WORKER_"

#: An Antares version as the driver and the solvers map name it: "8.8", "9.2".
VERSION_KEY = re.compile(r"^\d+\.\d+$")


def _host_name() -> str:
    return socket.gethostname() or "worker"


def _window(text: str) -> str:
    parse_window(text)  # ValueError: pydantic names the window (`schedule.1`)
    return text


ScheduleWindow = Annotated[str, AfterValidator(_window)]


class WorkerSettings(LayeredSettings):
    """Every key a worker reads; the YAML keys are the field names."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        validate_default=True,
    )

    driver_url: DriverUrl = "http://127.0.0.1:8000"
    token: Token = Field(description="the worker token declared in the driver's config")
    name: str = Field(default_factory=_host_name, min_length=1, max_length=200)
    cores: int = Field(0, ge=0, description="cores given to the solver; 0 = all of them")
    data_dir: Path = Path("data/worker")
    #: Antares version ("8.8") -> solver executable.
    solvers: dict[str, Path] = Field(min_length=1)

    #: Long-poll length of one claim; also how long an idle `--exit-when-idle` worker waits.
    claim_wait_s: float = Field(25.0, ge=0, le=60)
    #: Finished task folders kept on disk for inspection (0: delete once acknowledged).
    keep_task_folders: int = Field(0, ge=0)
    #: Total size of the cached study archives before the least recently used go.
    cache_max_bytes: ByteSize = ByteSize(20 * 1024**3)
    #: A task is refused (and handed back to the driver) below this much free disk.
    min_free_disk_bytes: ByteSize = ByteSize(2 * 1024**3)
    #: Backoff against a driver that is down or failing: first and longest wait.
    retry_initial_s: float = Field(1.0, gt=0)
    retry_max_s: float = Field(30.0, gt=0)
    #: How long a report (output upload, failure) is retried while the driver answers
    #: 5xx or cannot be reached, before the worker gives the result up.
    report_retry_limit_s: float = Field(1800.0, gt=0)
    #: Lines of the solver log sent with a failure report.
    log_tail_lines: int = Field(40, ge=1, le=2000)
    #: 7-Zip executable to unpack studies with, when present (the built-in unzip otherwise).
    sevenzip: Path | None = None

    #: Level of the worker's log (console and `<data_dir>/logs/worker.log`).
    log_level: LogLevel = "info"
    #: The log file is rotated at this size, keeping this many old files (worker.log.1...).
    log_file_max_bytes: int = Field(10 * 1024**2, ge=1024)
    log_file_backups: int = Field(5, ge=0)

    #: `shared`: read study archives from the driver's shared folder and leave run folders
    #: on this machine's share (docs/shared-mode.md); tasks the driver hands out over
    #: HTTP are still run. `http`: download and upload through the driver's API.
    transfer: Transfer = Transfer.HTTP
    #: Shared mode: this machine's shared output folder (a local path, dedicated to the
    #: worker): its task folders live there, and the driver reads the runs from it.
    shared_output_dir: Path | None = None
    #: Shared mode: the same folder as the DRIVER reaches it, e.g. C:\links\PC1_D\out.
    shared_output_root: str | None = None
    #: Prefixes of paths the driver sends -> this machine's, e.g.
    #: {"C:\\links\\DRIVER_D": "/mnt/driver_d"}; the longest matching prefix wins.
    path_map: dict[str, str] = Field(default_factory=dict)

    # The owner comes first (docs/worker.md): when this machine lends its cores.
    #: Windows of local time in which tasks may start: `DAYS [HH:MM-HH:MM] [cores=N]
    #: [idle=DURATION]`, the first that covers the moment counts (worker/policy.py).
    schedule: list[ScheduleWindow] = Field(default_factory=lambda: ["always"], min_length=1)
    #: Where the owner's keyboard and mouse idle time comes from (worker/probes.py).
    idle_source: IdleKind = IdleKind.AUTO
    #: idle_source: file: the file whose age is the idle time (touch it: the owner is active).
    idle_file: Path | None = None
    #: A suspended task resumes once the owner has been idle this long (at most the
    #: window's idle= time) and the load and memory conditions hold again.
    resume_idle_s: float = Field(300.0, ge=0)
    #: A task suspended this long is vacated: its solver killed, the task handed back.
    vacate_after_s: float = Field(600.0, gt=0)
    #: Start (and keep running) only while other programs use at most this much of the
    #: CPU, in % of the whole machine; the solver's own processes do not count. None: not used.
    max_other_cpu_percent: float | None = Field(None, gt=0, le=100)
    #: Start (and keep running) only while at least this much memory is free. None: not used.
    min_free_memory_bytes: ByteSize | None = None
    #: How often the owner's activity, the load and the memory are looked at.
    owner_check_s: float = Field(2.0, gt=0, le=60)

    #: When this worker will be stopped from outside: a batch system's time limit (the
    #: end of its Slurm job, docs/slurm.md). A time without a zone is local time, as
    #: `squeue` prints it. No task is claimed after `deadline - drain_margin_s`.
    deadline: datetime | None = None
    #: How long before `deadline` the worker stops claiming: the longest task it may
    #: still have to finish (it cannot know how long the next task will take).
    drain_margin_s: float = Field(600.0, ge=0)

    @field_validator("deadline")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.astimezone() if value is not None and value.tzinfo is None else value

    @field_validator("solvers", mode="before")
    @classmethod
    def _quoted_keys(cls, value: Any) -> Any:
        # YAML reads `9.2:` as a float, and `9.10` would silently become 9.1.
        if isinstance(value, dict):
            for version in value:
                if not isinstance(version, str):
                    raise ValueError(f'version {version!r} must be quoted in YAML: "{version}"')
        return value

    @field_validator("solvers")
    @classmethod
    def _version_keys(cls, value: dict[str, Path]) -> dict[str, Path]:
        for version in value:
            if not VERSION_KEY.match(version):
                raise ValueError(f"version {version!r} must look like 8.8 or 9.2")
        return value

    @model_validator(mode="after")
    def _shared_folders(self) -> WorkerSettings:
        if self.transfer is Transfer.SHARED and (
            self.shared_output_dir is None or not (self.shared_output_root or "").strip()
        ):
            raise ValueError(
                "transfer: shared needs shared_output_dir (this machine's shared output "
                "folder) and shared_output_root (the same folder as the driver reaches it)"
            )
        return self

    @model_validator(mode="after")
    def _idle_file_given(self) -> WorkerSettings:
        if self.idle_source is IdleKind.FILE and self.idle_file is None:
            raise ValueError("idle_source: file needs idle_file (the file to watch)")
        return self

    @property
    def owner_policy(self) -> Policy:
        return Policy(
            windows=windows_from(self.schedule),
            default_cores=self.solver_cores,
            resume_idle_s=self.resume_idle_s,
            vacate_after_s=self.vacate_after_s,
            max_other_cpu_percent=self.max_other_cpu_percent,
            min_free_memory=(
                int(self.min_free_memory_bytes) if self.min_free_memory_bytes is not None else None
            ),
        )

    @property
    def solver_cores(self) -> int:
        """Cores handed to the solver: the configured count, or every logical core."""
        return self.cores or psutil.cpu_count(logical=True) or 1

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def tasks_dir(self) -> Path:
        """Task folders: in the shared output folder in shared mode (the driver reads
        the runs there), else in the data folder."""
        if self.transfer is Transfer.SHARED and self.shared_output_dir is not None:
            return self.shared_output_dir
        return self.data_dir / "tasks"


def load_settings(
    config_file: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> WorkerSettings:
    """Settings from `config_file`, the environment and `overrides` (flags, None = unset).

    Raises `ConfigError` (exit status 2) naming every bad key.
    """
    return WorkerSettings.load(config_file, overrides, what="worker settings")

"""The driver's configuration: YAML file < `WINJOBS_DRIVER_*` environment < command line flags.

Why the `WINJOBS_DRIVER_` prefix rather than a bare `WINJOBS_`: the driver, the workers and
the user CLI often share one machine and one environment (the demo starts all three), and
their keys overlap (`data_dir`, `token`...). A bare prefix would let a worker's
`WINJOBS_DATA_DIR` move the driver's database. The CLI's `WINJOBS_DRIVER` (the driver URL)
does not collide: pydantic-settings only reads prefix + field name.

Plain tokens are hashed as the file is loaded: the settings object never holds a secret,
only sha256 digests, so it can be printed or logged.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)
from pydantic_settings import (
    SettingsConfigDict,
)

from winjobs.configfiles import LayeredSettings
from winjobs.driver.dashboard.config import DashboardSettings
from winjobs.driver.notify.config import NotifySettings
from winjobs.errors import ConfigError
from winjobs.logfiles import LogLevel
from winjobs.wire import TIME_LIMIT_MAX_S, Role, Transfer

ENV_PREFIX = "WINJOBS_DRIVER_"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ChunkPolicy(StrEnum):
    """How many years a claiming worker gets (see `scheduler.chunk_size`)."""

    BALANCED = "balanced"  #: shares of the remaining work, shrinking towards the end
    CORES = "cores"  #: the original tool's rule: as many years as the worker has free cores


class Scheduling(StrEnum):
    """The order of jobs of one (effective) priority (see `fairshare`)."""

    #: the user whose recent usage, divided by their weight, is lowest goes first
    FAIR_SHARE = "fair_share"
    STRICT = "strict"  #: first come first served, whoever submitted (the original order)


class CollectMode(StrEnum):
    """Shared mode: how the tasks' mc-ind years reach the job's merged output."""

    #: the original tool's way: symbolic links to the workers' shares (no copy; readable
    #: only while those machines are on)
    LINK = "link"
    #: copied to the driver when the task completes (the workers' folders can go)
    COPY = "copy"


def hash_token(token: str) -> str:
    """The digest under which a bearer token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenConfig(BaseModel):
    """One bearer token: give either `token` (plain, for trials) or `token_sha256`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: Role
    token: SecretStr | None = Field(default=None, exclude=True, repr=False)
    token_sha256: str | None = None

    @model_validator(mode="after")
    def _hash_plain_token(self) -> TokenConfig:
        if (self.token is None) == (self.token_sha256 is None):
            raise ValueError("give exactly one of `token` or `token_sha256`")
        if self.token is not None:
            plain = self.token.get_secret_value()
            if not plain:
                raise ValueError("`token` must not be empty")
            self.token_sha256 = hash_token(plain)
            self.token = None
        else:
            digest = (self.token_sha256 or "").lower()
            if not _HEX64.match(digest):
                raise ValueError("`token_sha256` must be 64 hexadecimal digits")
            self.token_sha256 = digest
        return self


class DriverSettings(LayeredSettings):
    """Every key of the driver's configuration, with its default."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        validate_default=True,
        frozen=True,
        allow_inf_nan=False,
    )

    host: str = "127.0.0.1"
    #: 0 picks a free port (tests, in-process drivers); read the real one from the server
    port: int = Field(8000, ge=0, le=65535)
    data_dir: Path = Path("data/driver")
    #: default `sqlite:///<data_dir>/winjobs.db`; PostgreSQL as `postgresql+psycopg://...`
    database_url: str | None = None
    tokens: list[TokenConfig] = Field(default_factory=list)
    #: users (token names) who may read every job's data (detail, logs, result), not
    #: only their own; admins always may (docs/driver.md, Auth)
    readers: list[str] = Field(default_factory=list)

    lease_seconds: float = Field(60.0, gt=0)
    #: how often workers are asked to heartbeat; default: a quarter of the lease
    heartbeat_interval_s: float | None = Field(None, gt=0)
    #: how often the sweeper looks for expired leases
    sweep_interval_s: float = Field(5.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    #: a worker that fails this many attempts in a row, while others succeed, is put on
    #: hold (no new task until released); 0: never (docs/driver.md, "When attempts fail")
    hold_after_failures: int = Field(3, ge=0, le=1000)
    chunk_policy: ChunkPolicy = ChunkPolicy.BALANCED
    #: the order within a priority: `fair_share` (users share the pool by their recent
    #: usage) or `strict` (first come first served); docs/driver.md, "Fair share and aging"
    scheduling: Scheduling = Scheduling.FAIR_SHARE
    #: the half-life of the usage fair share compares (core-seconds), in hours
    fair_share_half_life_h: float = Field(24.0, gt=0, le=24 * 365)
    #: users' weights (token names of users): a user of weight 2 is entitled to twice the
    #: share of a user of weight 1, which every user not listed has
    fair_share_weights: dict[str, float] = Field(default_factory=dict)
    #: aging: a queued job's priority rises by this many points per hour since it was
    #: submitted, by at most `aging_max_points` (0: no aging), and the job competes at
    #: the highest priority of the queue it reaches (`fairshare`)
    aging_points_per_hour: float = Field(1.0, ge=0, le=100)
    aging_max_points: int = Field(50, ge=0, le=99)
    #: upper bound of a claim's long-poll, whatever the worker asks for
    claim_max_wait_s: float = Field(30.0, ge=0, le=60)
    #: a worker not heard from for this long is offline (and not counted when sizing chunks)
    worker_offline_s: float = Field(90.0, gt=0)
    #: a task whose solver its worker has suspended this long (the machine's owner came
    #: back) goes to a worker that finds no other work; None: suspended tasks never move
    #: (their worker vacates them after its own vacate_after_s). docs/driver.md
    reassign_suspended_after_s: float | None = Field(300.0, ge=0)
    #: speculative copies: a worker that finds no other work runs a second copy of a task
    #: well behind its job's pace; the first to complete wins (docs/driver.md,
    #: "Speculative copies"). Off by default: a copy only pays off on a machine several
    #: times slower than the others, and it costs the cores it holds
    speculative_copies: bool = False
    #: a running task is behind when it has run this many times what its rounds take at
    #: its job's pace (the median time per round of the job's finished tasks)
    speculative_factor: float = Field(1.5, gt=1, le=100)
    #: finished tasks of a job needed before its pace is trusted
    speculative_min_finished: int = Field(2, ge=1, le=1000)

    max_upload_bytes: int = Field(20 * 1024**3, gt=0)
    max_years_per_job: int = Field(10_000, ge=1)
    #: zip-bomb guards when unpacking a submitted study
    max_unpacked_bytes: int = Field(200 * 1024**3, gt=0)
    max_compression_ratio: float = Field(200.0, gt=1)
    #: default time limit per task (seconds) for jobs that do not set one
    task_time_limit_s: float | None = Field(None, gt=0, le=TIME_LIMIT_MAX_S)
    #: the assembly process (merges, result zips: about 70 MB with numpy and pandas) ends
    #: after this many seconds without an assembly, and the next one starts it again;
    #: None keeps it for as long as the driver runs
    assembly_idle_s: float | None = Field(300.0, gt=0)
    #: threads serving blocking requests; raised above anyio's 40 so many long-polling
    #: workers and uploads never starve the other requests
    thread_pool_size: int = Field(100, ge=4)
    #: level of the driver's log (console and `<data_dir>/logs/driver.log`)
    log_level: LogLevel = "info"
    #: the log file is rotated at this size, keeping this many old files (driver.log.1...)
    log_file_max_bytes: int = Field(10 * 1024**2, ge=1024)
    log_file_backups: int = Field(5, ge=0)
    #: how study archives and task outputs travel: `http` (through this API) or `shared`
    #: (shared folders: docs/shared-mode.md); HTTP workers are served in both modes
    transfer: Transfer = Transfer.HTTP
    #: shared mode: the folder the driver writes study archives under, as the DRIVER
    #: reaches it (workers map it with their `path_map`), e.g. C:\links\DRIVER_D\winjobs
    shared_root: Path | None = None
    #: shared mode: `link` (mc-ind years stay on the workers' shares) or `copy`
    collect: CollectMode = CollectMode.LINK
    #: shared mode: the folders, as the driver reaches them (e.g. C:\links), inside which
    #: a worker's shared output folder must lie; empty: any folder a worker registers
    worker_share_roots: list[str] = Field(default_factory=list)
    #: how often the pool's load (online and busy cores) is recorded for the utilisation
    #: chart, and for how long samples are kept
    utilisation_sample_s: float = Field(60.0, ge=1)
    utilisation_keep_hours: float = Field(48.0, gt=0)
    #: the web pages at `/` (sessions, live refresh): see docs/dashboard.md
    dashboard: DashboardSettings = DashboardSettings()
    #: job-end webhooks and mail (SMTP server, secret, retries): docs/driver.md
    notify: NotifySettings = NotifySettings()

    @model_validator(mode="after")
    def _check_tokens(self) -> DriverSettings:
        seen: set[str] = set()
        for entry in self.tokens:
            digest = entry.token_sha256 or ""
            if digest in seen:
                raise ValueError(f"tokens: the token of {entry.name!r} is listed twice")
            seen.add(digest)
        users = {t.name for t in self.tokens if t.role is Role.USER}
        unknown = [name for name in self.readers if name not in users]
        if unknown:
            raise ValueError(
                f"readers: {', '.join(map(repr, unknown))} is not the name of a user token"
            )
        unweighed = [name for name in self.fair_share_weights if name not in users]
        if unweighed:
            raise ValueError(
                f"fair_share_weights: {', '.join(map(repr, unweighed))} is not the name of "
                "a user token"
            )
        bad = [f"{name!r}: {w}" for name, w in self.fair_share_weights.items() if not w > 0]
        if bad:
            raise ValueError(f"fair_share_weights: weights must be above 0 ({', '.join(bad)})")
        if self.database_url is not None and not self.database_url.startswith(
            ("sqlite:", "postgresql")
        ):
            raise ValueError(
                "database_url: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
            )
        if self.heartbeat_interval_s is not None and self.heartbeat_interval_s >= (
            self.lease_seconds
        ):
            raise ValueError("heartbeat_interval_s must be shorter than lease_seconds")
        if self.transfer is Transfer.SHARED and self.shared_root is None:
            raise ValueError(
                "shared_root: transfer: shared needs the folder the driver writes study "
                "archives under (see docs/shared-mode.md)"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'winjobs.db').resolve().as_posix()}"

    @property
    def heartbeat_every_s(self) -> float:
        return self.heartbeat_interval_s or self.lease_seconds / 4


def require_tokens(settings: DriverSettings) -> None:
    """A driver without tokens would answer 401 to every request, the dashboard's sign-in
    included: refuse to start, saying where tokens go, rather than serve nobody. (Made-up
    tokens printed once were the other choice: but a driver restarted by a service
    manager would print new ones to a console nobody reads, and lock its workers out.)"""
    if settings.tokens:
        return
    raise ConfigError(
        "no tokens are configured, so the driver would refuse every request (HTTP 401): "
        "list them under `tokens:` in the YAML file given with --config (or "
        "WINJOBS_DRIVER_CONFIG), e.g. `tokens: [{name: alice, role: user, token: "
        '"<a secret>"}, {name: pool, role: worker, token: "<another>"}]`, or set '
        "WINJOBS_DRIVER_TOKENS to that list as JSON (see docs/driver.md, Configuration)"
    )


def load_settings(config_file: Path | None = None, **flags: Any) -> DriverSettings:
    """Settings from a YAML file, the environment and explicit flags (None flags ignored).

    Raises ConfigError (exit status 2) naming every invalid field and why.
    """
    return DriverSettings.load(config_file, flags, what="driver configuration")

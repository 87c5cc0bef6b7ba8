"""`winjobs clean data | logs`: remove what a driver or a worker no longer needs.

Which one is cleaned follows from the config file (a worker's has `solvers` and
`driver_url`, a driver's has `tokens` or `database_url`), or `--driver` / `--worker`.
The rules live in `winjobs.driver.retention` and `winjobs.worker.retention`.
"""

from __future__ import annotations

import os
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from winjobs.cli.app import app, console
from winjobs.errors import ConfigError
from winjobs.logfiles import LOGS_FOLDER, rotated_logs
from winjobs.ops.durations import describe_duration, parse_duration

clean_app = typer.Typer(
    help="Remove finished jobs, old task folders and old logs (docs/operations.md).",
    no_args_is_help=True,
)
app.add_typer(clean_app, name="clean")


class Kind(StrEnum):
    DRIVER = "driver"
    WORKER = "worker"


_WORKER_KEYS = frozenset({"solvers", "driver_url", "shared_output_dir", "path_map", "cores"})
_DRIVER_KEYS = frozenset({"tokens", "database_url", "shared_root", "collect", "lease_seconds"})


def config_kind(keys: set[str]) -> Kind | None:
    """A driver's or a worker's config, by the keys only one of them has; None if unsure."""
    worker, driver = bool(keys & _WORKER_KEYS), bool(keys & _DRIVER_KEYS)
    if worker == driver:
        return None
    return Kind.WORKER if worker else Kind.DRIVER


def _config_keys(config: Path) -> set[str]:
    try:
        content = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"config file {config} cannot be read: {exc}") from exc
    return set(content) if isinstance(content, dict) else set()


def resolve_kind(config: Path | None, driver: bool, worker: bool) -> tuple[Kind, Path | None]:
    """Which side to clean, and its config file (also from WINJOBS_*_CONFIG)."""
    if driver and worker:
        raise ConfigError("give --driver or --worker, not both")
    if driver or worker:
        kind = Kind.DRIVER if driver else Kind.WORKER
        env = os.environ.get(f"WINJOBS_{kind.value.upper()}_CONFIG")
        return kind, config or (Path(env) if env else None)
    if config is not None:
        found = config_kind(_config_keys(config))
        if found is None:
            raise ConfigError(
                f"cannot tell whether {config} configures a driver or a worker: "
                "add --driver or --worker"
            )
        return found, config
    candidates = [(kind, os.environ.get(f"WINJOBS_{kind.value.upper()}_CONFIG")) for kind in Kind]
    given = [(kind, Path(path)) for kind, path in candidates if path]
    if len(given) == 1:
        return given[0]
    raise ConfigError("give the config file of the driver or worker to clean: --config FILE")


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else "?"


def _data_dir(kind: Kind, config: Path | None) -> Path:
    return _load(kind, config).data_dir  # type: ignore[no-any-return]


def _load(kind: Kind, config: Path | None) -> Any:
    if kind is Kind.DRIVER:
        from winjobs.driver.settings import load_settings as load_driver

        return load_driver(config)
    from winjobs.worker.settings import load_settings as load_worker

    return load_worker(config)


def _clean_driver(config: Path | None, before: datetime, dry_run: bool) -> None:
    from winjobs.driver.retention import apply_clean, maintenance, plan_clean

    with maintenance(_load(Kind.DRIVER, config)) as target:
        plan = plan_clean(target.store, target.files, before)
        verb = "would remove" if dry_run else "removing"
        for item in plan:
            job = item.finished.job
            linked = item.linked_outputs()
            where = f"; years linked from {len(linked)} worker folder(s)" if linked else ""
            _say(
                f"{verb} job {job.id} {job.name!r} ({job.status} {_day(job.finished_at)}, "
                f"{_human(item.size)}{where})"
            )
        if dry_run:
            _say(f"{len(plan)} job(s) would be removed; nothing changed (--dry-run)")
            return
        report = apply_clean(target, plan)
    for job_id in report.skipped:
        _say(f"kept job {job_id}: it was retried meanwhile")
    for archive in report.archives:
        _say(f"removed study archive {archive}")
    _say(
        f"removed {len(report.removed)} job(s), {_human(report.bytes_freed)} freed; "
        "their summaries are kept in the job_archive table"
    )


def _clean_worker(config: Path | None, before: datetime, dry_run: bool) -> None:
    from winjobs.worker.retention import apply_clean, plan_clean, running_worker

    settings = _load(Kind.WORKER, config)
    plan = plan_clean(settings, before)
    verb = "would remove" if dry_run else "removing"
    for item in plan:
        note = f" ({item.note})" if item.note else ""
        _say(f"{verb} {item.what} {item.path}{note}, {_day(item.modified)}, {_human(item.size)}")
    if running_worker(settings.data_dir) is not None:
        _say("a worker runs on this data folder: only linked runs and archives are considered")
    if dry_run:
        _say(f"{len(plan)} item(s) would be removed; nothing changed (--dry-run)")
        return
    freed = apply_clean(plan)
    _say(f"removed {len(plan)} item(s), {_human(freed)} freed")


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="The driver's or worker's config file (else WINJOBS_DRIVER_CONFIG or "
        "WINJOBS_WORKER_CONFIG).",
    ),
]
OlderOpt = Annotated[
    str, typer.Option("--older-than", help="Age, e.g. 30d, 12h, 1d12h (units s m h d w).")
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Say what would go; change nothing.")]
DriverOpt = Annotated[bool, typer.Option("--driver", help="Clean a driver's data folder.")]
WorkerOpt = Annotated[bool, typer.Option("--worker", help="Clean a worker's data folder.")]


@clean_app.command("data")
def clean_data(
    config: ConfigOpt = None,
    older_than: OlderOpt = "30d",
    dry_run: DryRunOpt = False,
    driver: DriverOpt = False,
    worker: WorkerOpt = False,
) -> None:
    """Driver: remove jobs that ended longer ago than --older-than (folders, rows; a
    summary row is kept). Worker: remove old task folders (also runs a driver's output
    links to: clean the driver first) and unused cached archives.

    Never touches a queued or running job, nor a task a running worker is working on.
    """
    age = parse_duration(older_than)
    kind, config_file = resolve_kind(config, driver, worker)
    before = datetime.now().astimezone() - age
    _say(f"cleaning the {kind.value}'s data older than {describe_duration(age)}")
    if kind is Kind.DRIVER:
        _clean_driver(config_file, before, dry_run)
    else:
        _clean_worker(config_file, before, dry_run)


@clean_app.command("logs")
def clean_logs(
    config: ConfigOpt = None,
    older_than: OlderOpt = "30d",
    dry_run: DryRunOpt = False,
    driver: DriverOpt = False,
    worker: WorkerOpt = False,
) -> None:
    """Remove rotated log files (driver.log.N, worker.log.N) older than --older-than.

    The log being written is never removed.
    """
    age = parse_duration(older_than)
    kind, config_file = resolve_kind(config, driver, worker)
    folder = _data_dir(kind, config_file) / LOGS_FOLDER
    old = rotated_logs(folder, datetime.now().astimezone() - age)
    verb = "would remove" if dry_run else "removed"
    for path in old:
        if not dry_run:
            path.unlink(missing_ok=True)
        _say(f"{verb} {path}")
    _say(f"{len(old)} old log file(s) in {folder}" + (" (--dry-run)" if dry_run else ""))

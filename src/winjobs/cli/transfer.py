"""Moving a study to the driver and a result back, with progress bars.

`send_study` is what `winjobs submit` and `winjobs demo` share: validate locally (the same
rules and messages as `winjobs inspect`, so a broken study is refused before minutes of
packing and uploading), check that the driver answers and takes the token (same reason),
pack without `output/`, upload, and remember where the study lives
so that the result can later land in its own `output/`.

`fetch_result` writes a job's merged run folder as `DEST/<run folder>/`, DEST playing the
part of a study's `output/`; a study that asks for `result-format = zip` gets its run as
`DEST/<run folder>.zip`, as a single run of it would leave it. It never overwrites: an
existing run of that name stops it, and a failed download or a hostile archive leaves
nothing in DEST.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from winjobs.antares.archive import pack_study
from winjobs.antares.output import read_run_info
from winjobs.antares.study import Study, open_study
from winjobs.antares.unpack import check_archive, unpack_archive
from winjobs.cli.common import InputError
from winjobs.cli.localjobs import LocalJobs
from winjobs.cli.userconfig import Connection, default_config_path
from winjobs.cli.years import check_years, parse_years
from winjobs.client import ClientError, DriverClient
from winjobs.errors import ArchiveError, OutputError, WinjobsError
from winjobs.wire import (
    MAX_NOTIFY_TARGETS,
    TIME_LIMIT_MAX_S,
    JobCreated,
    JobDetail,
    JobStatus,
    JobSubmitFields,
    Role,
    parse_notify_targets,
)


@dataclass(frozen=True)
class SubmitRequest:
    """What the user asked for, before it is checked against the study."""

    study: Path
    priority: int = 50
    name: str | None = None
    years: str | None = None  #: the user's 1-based spec, e.g. "1-10,15"
    time_limit_s: float | None = None
    #: `--notify` targets as typed (the user config's `notify` when none was given)
    notify: tuple[str, ...] = ()


def bytes_progress(console: Console, label: str) -> Progress:
    """A bar for bytes moving: size done / total, speed, time left."""
    return Progress(
        TextColumn(f"{label:<10}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def check_request(request: SubmitRequest) -> tuple[Study, JobSubmitFields]:
    """Open the study and turn the request into the form fields; no I/O beyond reading it."""
    study = open_study(request.study)
    if not 1 <= request.priority <= 100:
        raise InputError(
            f"--priority must be between 1 and 100 (higher runs first), not {request.priority}"
        )
    if request.name is not None and not 1 <= len(request.name) <= 200:
        raise InputError("--name must be 1 to 200 characters long")
    limit = request.time_limit_s
    if limit is not None and not 0 < limit <= TIME_LIMIT_MAX_S:  # NaN fails it too
        raise InputError(
            f"--time-limit must be a positive number of seconds, at most {TIME_LIMIT_MAX_S:.0f} "
            f"(a year), not {limit:g}"
        )
    years: str | None = None
    if request.years is not None:
        chosen = parse_years(request.years)
        check_years(chosen, study.nbyears, study.years)
        years = ",".join(str(y) for y in chosen)
    fields = JobSubmitFields(
        priority=request.priority,
        name=request.name or study.name,
        years=years,
        task_time_limit_s=request.time_limit_s,
        notify=check_notify(request.notify),
    )
    return study, fields


def check_notify(targets: Sequence[str]) -> str | None:
    """`--notify` values as the driver takes them (one per line); the same rules as its own."""
    try:
        checked = parse_notify_targets(list(targets))
    except ValueError as exc:
        raise InputError(f"--notify {exc}") from exc
    if len(checked) > MAX_NOTIFY_TARGETS:
        raise InputError(f"--notify: at most {MAX_NOTIFY_TARGETS} targets")
    return "\n".join(checked) or None


def check_submitter(client: DriverClient) -> None:
    """Before minutes of packing: the driver answers, knows the token, and the token may
    submit (a worker's may not)."""
    identity = client.me()
    if identity.role not in (Role.USER, Role.ADMIN):
        raise ClientError(
            f"the token belongs to {identity.name}, a {identity.role} token: submitting "
            "needs a user or admin token",
            status_code=403,
        )


def send_study(
    client: DriverClient,
    connection: Connection,
    request: SubmitRequest,
    console: Console,
) -> JobCreated:
    """Validate, pack, upload; the job id is remembered against the study's local path."""
    study, fields = check_request(request)
    for warning in study.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    check_submitter(client)
    told = warn_of_pool(client, study.version, console)
    with tempfile.TemporaryDirectory(prefix="winjobs-submit-") as tmp:
        archive = Path(tmp) / "study.zip"
        with bytes_progress(console, "packing") as bar:
            task = bar.add_task("packing", total=None)
            pack_study(
                study.path,
                archive,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        with bytes_progress(console, "uploading") as bar:
            task = bar.add_task("uploading", total=archive.stat().st_size)
            created = client.submit_job(
                archive,
                fields,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    LocalJobs.beside(default_config_path()).remember(
        connection.driver_url, created.job_id, study.path
    )
    for warning in created.warnings:
        if warning not in told:
            console.print(f"[yellow]warning from the driver:[/] {warning}", highlight=False)
    return created


def warn_of_pool(client: DriverClient, antares_version: str, console: Console) -> list[str]:
    """Before minutes of packing and uploading: what the driver would warn of a job of
    this version now (no online worker can run it); the user may stop there. A driver
    too old to answer warns after the upload, as it always did."""
    try:
        warnings = client.check_submission(antares_version).warnings
    except ClientError as exc:
        if exc.status_code != 404:
            raise
        return []
    for warning in warnings:
        console.print(f"[yellow]warning from the driver:[/] {warning}", highlight=False)
    return warnings


def default_destination(connection: Connection, job_id: int) -> Path:
    """The submitted study's own `output/`, when this machine submitted the job."""
    study = LocalJobs.beside(default_config_path()).study_of(connection.driver_url, job_id)
    if study is None:
        raise InputError(
            f"job {job_id} was not submitted from this machine (as this user): "
            "give the folder to download into, e.g. winjobs download "
            f"{job_id} path/to/study/output"
        )
    if not (study / "study.antares").is_file():
        raise InputError(
            f"job {job_id} was submitted from {study}, which is no longer a study folder: "
            "give the folder to download into"
        )
    return study / "output"


def fetch_result(client: DriverClient, job: JobDetail, dest: Path, console: Console) -> Path:
    """Download the job's run into `dest`: unpacked as `dest/<run folder>/`, or kept as
    `dest/<run folder>.zip` when the study asks for zipped results; return its absolute
    path (what the user sees printed, and scripts read from `--json`)."""
    dest = dest.absolute()
    if job.status != JobStatus.SUCCEEDED or not job.result_available:
        raise WinjobsError(
            f"job {job.id} {job.status.phrase}: it has no result to download"
            + ("" if job.status.is_final else f" yet (wait for it: winjobs wait {job.id})")
        )
    if job.run_folder:  # either form of the run: the zipped form is only known once here
        for existing in (dest / job.run_folder, dest / f"{job.run_folder}.zip"):
            _refuse_existing(existing)
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".winjobs-download-{job.id}-", dir=dest))
    try:
        archive = staging / "result.zip"
        with bytes_progress(console, "download") as bar:
            task = bar.add_task("download", total=None)
            client.download_result(
                job.id,
                archive,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        try:
            if _is_zipped_run(archive):  # kept as it is: checked whole first
                _check(archive)
                target = dest / f"{job.run_folder or f'job-{job.id}'}.zip"
                _refuse_existing(target)
                archive.replace(target)
                return target
            unpacked = staging / "unpacked"  # the unpacking applies the same guards
            unpack_archive(archive, unpacked)
        except ArchiveError as exc:
            raise ArchiveError(f"the result of job {job.id} was refused: {exc}") from exc
        run = _run_folder_in(unpacked)
        name = job.run_folder or (run.name if run is not unpacked else f"job-{job.id}")
        target = dest / name
        _refuse_existing(target)
        run.rename(target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _refuse_existing(target: Path) -> None:
    if target.exists():
        raise InputError(f"{target} already exists: remove it or choose another destination")


def _check(archive: Path) -> None:
    """A zipped run is checked before it is kept: the unpacking guards (names, sizes,
    counts) and every entry's CRC, nothing written. A run that is unpacked is not checked
    first: the unpacking applies the same guards and CRCs as it writes, all or nothing
    (checking first decompressed every result twice)."""
    with archive.open("rb") as handle:
        check_archive(handle, archive.stat().st_size, archive.name).close()


def _is_zipped_run(archive: Path) -> bool:
    """The archive IS a run (entries relative to it) whose study asks for
    `result-format = zip`: the driver serves such a job's run as the solver zips it, and
    it is kept as it is."""
    try:
        return read_run_info(archive).zipped
    except OutputError:
        return False  # a run folder inside (or no run at all: the unpacking shows it)


def _run_folder_in(unpacked: Path) -> Path:
    """The archive holds either the run folder itself or its content; accept both."""
    if (unpacked / "info.antares-output").exists():
        return unpacked
    entries = list(unpacked.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return unpacked

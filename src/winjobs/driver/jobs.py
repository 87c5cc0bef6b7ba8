"""Job operations for users: submit, look, cancel, re-prioritise, hold, release, retry,
fetch results.

Orchestrates the store, the data folder, the collector and the work signal; knows nothing
of HTTP. Ownership rules are checked here (`auth.ensure_can_change`), so every caller (API,
dashboard) gets them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from winjobs.antares.unpack import UnpackLimits
from winjobs.antares.versions import parse_version
from winjobs.driver import views
from winjobs.driver.auth import (
    ensure_can_change,
    ensure_can_read,
    ensure_can_release,
    may_change,
    may_read,
    may_release,
)
from winjobs.driver.collector import Collector
from winjobs.driver.errors import Conflict, Invalid, NotFound, Unavailable
from winjobs.driver.files import DataDir, Upload, read_text, remove_tree, replace_dir
from winjobs.driver.intake import validate_submission
from winjobs.driver.models import Job
from winjobs.driver.overview import Overview
from winjobs.driver.settings import DriverSettings
from winjobs.driver.shared import SharedFolders
from winjobs.driver.signals import WorkSignal
from winjobs.driver.store import NewJob, Store, describe_years
from winjobs.wire import (
    MAIL_PREFIX,
    Identity,
    JobCreated,
    JobDetail,
    JobList,
    JobStatus,
    JobSubmitFields,
    JobSummary,
    SubmissionCheck,
)

log = logging.getLogger(__name__)


class JobService:
    def __init__(
        self,
        store: Store,
        files: DataDir,
        settings: DriverSettings,
        signal: WorkSignal,
        collector: Collector,
        shared: SharedFolders | None = None,
        overview: Overview | None = None,
    ) -> None:
        self.store = store
        self.files = files
        self.settings = settings
        self.signal = signal
        self.collector = collector
        self.shared = shared
        #: adds the why-pending reasons and the ETAs to the jobs read (None: plain jobs)
        self.overview = overview

    # ------------------------------------------------------------------ submit

    def submit(self, upload: Upload, fields: JobSubmitFields, submitter: str) -> JobCreated:
        """Validate the uploaded study, then store it and queue the job (all or nothing)."""
        unpacked = self.files.temp_path("study")
        limits = UnpackLimits(
            max_total_bytes=self.settings.max_unpacked_bytes,
            max_ratio=self.settings.max_compression_ratio,
        )
        try:
            intake = validate_submission(
                upload.path, unpacked, limits, fields.years, self.settings.max_years_per_job
            )
            study = intake.study
            self.files.keep_archive(upload.path, upload.sha256)
            self._publish(upload.sha256)
            job = NewJob(
                name=fields.name or study.name,
                submitter=submitter,
                priority=fields.priority,
                study_name=study.name,
                study_sha256=upload.sha256,
                study_size=upload.size,
                antares_version=study.version,
                mode=study.mode,
                years=intake.years,
                splittable=study.splittable,
                task_time_limit_s=fields.task_time_limit_s or self.settings.task_time_limit_s,
                warnings=list(study.warnings),
                notify=self.check_notify(fields),
            )
            placed: list[Path] = []

            def place_study(job_id: int) -> None:
                target = self.files.job_study(job_id)
                placed.append(target)
                replace_dir(intake.root, target)

            try:
                job_id = self.store.create_job(job, on_created=place_study)
            except BaseException:
                for path in placed:
                    remove_tree(path.parent)
                raise
        finally:
            remove_tree(unpacked)
            upload.path.unlink(missing_ok=True)
        split = "" if study.splittable else " (cannot be split: one task)"
        self._log(
            job_id,
            f"submitted by {submitter}: study {study.name!r} (Antares {study.version}, "
            f"{study.mode}), years {describe_years(job.years)}, priority {job.priority}{split}",
        )
        for warning in job.warnings:
            self._log(job_id, f"warning: {warning}")
        self.signal.notify()
        unrunnable = self.overview.unrunnable(job_id) if self.overview else None
        if unrunnable is not None:
            self._log(job_id, f"waiting: {unrunnable}")
        return JobCreated(job_id=job_id, warnings=[*job.warnings, *filter(None, [unrunnable])])

    def check_submission(self, antares_version: str) -> SubmissionCheck:
        """What a submission of a study of this version would be warned of, before it is
        uploaded (422 for a text that is no Antares version)."""
        try:
            version = parse_version(antares_version)
        except ValueError as exc:
            raise Invalid(f"antares_version: {exc}") from None
        spelled = f"{version.major}.{version.minor}"
        unrunnable = self.overview.unrunnable_version(spelled) if self.overview else None
        return SubmissionCheck(antares_version=spelled, warnings=[*filter(None, [unrunnable])])

    def check_notify(self, fields: JobSubmitFields) -> list[str]:
        """The job's notification targets, if this driver can serve them (422 else)."""
        targets = fields.notify_targets
        if self.settings.notify.smtp is None and any(t.startswith(MAIL_PREFIX) for t in targets):
            raise Invalid(
                "notify: this driver has no mail server (notify.smtp in its configuration): "
                "use a webhook URL, or ask its operator"
            )
        return targets

    def _publish(self, sha256: str) -> None:
        """Shared mode: put the archive where shared workers read it. Best effort: a
        claim publishes it again, or hands the task out over HTTP."""
        if self.shared is None or not self.shared.enabled:
            return
        try:
            self.shared.publish_archive(sha256)
        except Unavailable as exc:
            log.warning("%s (claims will try again)", exc)

    # ------------------------------------------------------------------ read

    def detail(self, job_id: int, reader: Identity) -> JobDetail:
        """The job, for those who may read it; its notification targets and their
        delivery only for its owner and admins (a webhook URL may hold a key)."""
        job = self._readable(job_id, reader)
        tasks = self.store.job_tasks(job_id)
        progress = self.store.progress([job_id])[job_id]
        shown = may_change(reader, job.submitter)
        notifications = self.store.job_notifications(job_id) if shown else []
        copies = self.store.job_copies(job_id)
        detail = views.job_detail(job, tasks, progress, self.store.clock(), notifications, copies)
        detail = detail if shown else detail.model_copy(update={"notify": []})
        return self.overview.annotate_detail(detail) if self.overview else detail

    def list(
        self,
        status: JobStatus | None,
        submitter: str | None,
        viewer: Identity,
        limit: int | None = None,
        offset: int = 0,
    ) -> JobList:
        """A page of jobs, newest first (all of them without `limit`), and the total.

        Every user sees the whole queue (what runs before their jobs), but the failure
        reason and warnings only of the jobs they may read (`auth.may_read`).
        Paged in the database: a driver with years of jobs must not read every one of
        them for each refresh of the dashboard or each `winjobs jobs`.
        """
        page = self.store.list_jobs(status.value if status else None, submitter, limit, offset)
        progress = self.store.progress([j.id for j in page.jobs])
        now = self.store.clock()
        summaries: list[JobSummary] = []
        for job in page.jobs:
            summary = views.job_summary(job, progress[job.id], now)
            if not may_read(viewer, job.submitter, self.settings.readers):
                summary = summary.model_copy(update={"error": None, "warnings": []})
            summaries.append(summary)
        if self.overview is not None:
            summaries = self.overview.annotate(summaries)
        return JobList(jobs=summaries, total=page.total)

    def result(self, job_id: int, reader: Identity) -> tuple[Path, str]:
        """The result zip and the file name to offer for it."""
        job = self._readable(job_id, reader)
        if job.status != JobStatus.SUCCEEDED.value or job.run_folder is None:
            raise Conflict(f"job {job_id} has no result: it {JobStatus(job.status).phrase}")
        path = self.collector.result_zip(job)  # built now if its years are linked
        if not path.is_file():
            raise NotFound(f"the result of job {job_id} was removed from the driver")
        return path, f"{job.run_folder}.zip"

    def job_log(self, job_id: int, reader: Identity) -> str:
        self._readable(job_id, reader)
        return read_text(self.files.job_log(job_id))

    def task_log(self, job_id: int, task_id: int, reader: Identity) -> str:
        self._readable(job_id, reader)
        if task_id not in {t.id for t in self.store.job_tasks(job_id)}:
            raise NotFound(f"job {job_id} has no task {task_id}")
        return self.files.read_task_log(job_id, task_id)

    def may_read(self, job: JobSummary, reader: Identity) -> bool:
        """Whether `reader` may read this job's data (the dashboard links what they may)."""
        return may_read(reader, job.submitter, self.settings.readers)

    def _readable(self, job_id: int, reader: Identity) -> Job:
        """The job, if `reader` may read its data (404 if there is none, else 403)."""
        job = self.store.get_job(job_id)
        ensure_can_read(reader, job.submitter, job_id, self.settings.readers)
        return job

    # ------------------------------------------------------------------ change

    def _owned(self, job_id: int, identity: Identity) -> Job:
        job = self.store.get_job(job_id)
        ensure_can_change(identity, job.submitter, job_id)
        return job

    def cancel(self, job_id: int, identity: Identity) -> JobDetail:
        self._owned(job_id, identity)
        self.store.cancel_job(job_id)
        self._log(job_id, f"cancelled by {identity.name}")
        return self.detail(job_id, identity)

    def set_priority(self, job_id: int, priority: int, identity: Identity) -> JobDetail:
        self._owned(job_id, identity)
        self.store.set_priority(job_id, priority)
        self._log(job_id, f"priority set to {priority} by {identity.name}")
        self.signal.notify()
        return self.detail(job_id, identity)

    def hold(self, job_id: int, identity: Identity, reason: str | None = None) -> JobDetail:
        """No task of the job is claimed until it is released; running ones finish."""
        self._owned(job_id, identity)
        why = (reason or "").strip() or None
        self.store.hold_job(job_id, identity.name, why)
        self._log(job_id, f"held by {identity.name}" + (f": {why}" if why else ""))
        return self.detail(job_id, identity)

    def release(self, job_id: int, identity: Identity) -> JobDetail:
        job = self.store.get_job(job_id)
        ensure_can_release(identity, job.submitter, job.held_by, job_id)
        self.store.release_job(job_id)
        self._log(job_id, f"released by {identity.name}")
        self.signal.notify()
        return self.detail(job_id, identity)

    def retry(self, job_id: int, identity: Identity) -> JobDetail:
        """Queue the unfinished years again. A hold left from before the job ended is
        lifted when the caller may release it; an admin's hold on someone else's job stays
        (a cancel then a retry must not undo what only an admin may undo)."""
        job = self._owned(job_id, identity)
        lift_hold = may_release(identity, job.submitter, job.held_by)
        only_assembly = self.store.retry_job(job_id, lift_hold=lift_hold)
        still = "" if lift_hold or not job.held else f" (still held by {job.held_by})"
        self._log(job_id, f"retried by {identity.name}: unfinished years queued again{still}")
        if only_assembly:
            self.collector.schedule(job_id)
        else:
            self.signal.notify()
        return self.detail(job_id, identity)

    def _log(self, job_id: int, text: str) -> None:
        self.files.append_log(self.files.job_log(job_id), text)

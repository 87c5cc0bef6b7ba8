"""The per-user record of which local study folder each submitted job came from.

`winjobs download JOB` with no destination puts the result in the submitted study's own
`output/`, as after a local Antares run. The driver only knows the study's name, not where
it lives on the user's disk, so `winjobs submit` remembers it here: a small JSON file next
to the user config file (`submitted-jobs.json`), keyed by driver URL and job id (two
drivers both have a job 1). Only the most recent `MAX_ENTRIES` jobs are kept.

The file is rewritten atomically (temporary file + rename), so a crash never leaves a
half-written record; two submits finishing at the same instant may lose one entry, which
only costs the user a `DEST` argument later.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ValidationError

RECORD_NAME = "submitted-jobs.json"
MAX_ENTRIES = 1000


class SubmittedJob(BaseModel):
    driver_url: str
    job_id: int
    study: str  #: absolute path of the study folder as it was submitted
    submitted_at: datetime


class _Record(BaseModel):
    jobs: list[SubmittedJob] = []


class LocalJobs:
    """Read and update the record kept in `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def beside(cls, config_path: Path) -> LocalJobs:
        return cls(config_path.parent / RECORD_NAME)

    def _load(self) -> _Record:
        try:
            return _Record.model_validate_json(self.path.read_bytes())
        except (OSError, ValidationError, ValueError):
            # A missing or damaged record only loses the convenience of a default DEST.
            return _Record()

    def remember(self, driver_url: str, job_id: int, study: Path) -> None:
        record = self._load()
        key = (driver_url.rstrip("/"), job_id)
        jobs = [j for j in record.jobs if (j.driver_url, j.job_id) != key]
        jobs.append(
            SubmittedJob(
                driver_url=key[0],
                job_id=job_id,
                study=str(study.resolve()),
                submitted_at=datetime.now(UTC),
            )
        )
        self._save(_Record(jobs=jobs[-MAX_ENTRIES:]))

    def study_of(self, driver_url: str, job_id: int) -> Path | None:
        """The local study folder job `job_id` was submitted from, if this record knows it."""
        key = (driver_url.rstrip("/"), job_id)
        for job in reversed(self._load().jobs):
            if (job.driver_url, job.job_id) == key:
                return Path(job.study)
        return None

    def _save(self, record: _Record) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".submitted-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(record.model_dump(mode="json"), handle, indent=1)
            Path(tmp).replace(self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

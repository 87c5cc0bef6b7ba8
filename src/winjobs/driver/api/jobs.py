"""`/jobs`: submit, list, look at, cancel, re-prioritise, hold, release, retry, download,
read logs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, PlainTextResponse
from pydantic import ValidationError

from winjobs.driver.api.deps import IdPath, JobsDep, SettingsDep, UserIdentity
from winjobs.driver.api.uploads import receive_multipart
from winjobs.driver.errors import Invalid
from winjobs.driver.files import Upload
from winjobs.wire import (
    JOBS_LIMIT_DEFAULT,
    JOBS_LIMIT_MAX,
    SUBMIT_ARCHIVE_FIELD,
    HoldRequest,
    JobCreated,
    JobDetail,
    JobList,
    JobStatus,
    JobSubmitFields,
    PriorityChange,
    SubmissionCheck,
)

router = APIRouter(tags=["jobs"])

#: /docs shows the multipart body, which the handler parses itself (streaming)
_SUBMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [SUBMIT_ARCHIVE_FIELD],
                    "properties": {
                        SUBMIT_ARCHIVE_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "the study packed as a zip (without output/)",
                        },
                        **JobSubmitFields.model_json_schema()["properties"],
                    },
                }
            }
        },
    }
}


def parse_submit_fields(fields: dict[str, str]) -> JobSubmitFields:
    present = {key: value for key, value in fields.items() if value != ""}
    try:
        return JobSubmitFields.model_validate(present)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in exc.errors()
        ]
        raise Invalid("; ".join(problems)) from exc


@router.post("/jobs", status_code=201, response_model=JobCreated, openapi_extra=_SUBMIT_BODY)
async def submit_job(
    request: Request, identity: UserIdentity, jobs: JobsDep, settings: SettingsDep
) -> JobCreated:
    """Upload a packed study (multipart: file `archive` + the JobSubmitFields fields).

    The study is validated before it is accepted: a bad one gets 422 with every reason
    and leaves nothing behind.
    """

    async def check(fields: dict[str, str]) -> None:
        jobs.check_notify(parse_submit_fields(fields))

    dest = jobs.files.temp_path("upload")
    received = await receive_multipart(
        request, SUBMIT_ARCHIVE_FIELD, dest, settings.max_upload_bytes, check
    )
    try:
        fields = parse_submit_fields(received.fields)
        upload = Upload(path=received.path, size=received.size, sha256=received.sha256)
        return await run_in_threadpool(jobs.submit, upload, fields, identity.name)
    finally:
        received.path.unlink(missing_ok=True)


@router.get("/submissions/check", response_model=SubmissionCheck)
def check_submission(
    _identity: UserIdentity,
    jobs: JobsDep,
    antares_version: Annotated[str, Query(min_length=1, max_length=20)],
) -> SubmissionCheck:
    """What a new job of this Antares version (`8.8`, `880`) would be warned of, asked
    before its study is packed and uploaded (`winjobs submit` does): no online worker
    has a solver for it, or only offline ones have."""
    return jobs.check_submission(antares_version)


@router.get("/jobs", response_model=JobList)
def list_jobs(
    identity: UserIdentity,
    jobs: JobsDep,
    status: JobStatus | None = None,
    submitter: str | None = None,
    limit: Annotated[int, Query(ge=1, le=JOBS_LIMIT_MAX)] = JOBS_LIMIT_DEFAULT,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JobList:
    """Jobs newest first, filtered by status and submitter, one page at a time: `limit`
    jobs after the first `offset`; `total` counts the matching jobs on every page. The
    failure reason and warnings only of the jobs the caller may read."""
    return jobs.list(status, submitter, identity, limit, offset)


@router.get("/jobs/{job_id}", response_model=JobDetail)
def get_job(job_id: IdPath, identity: UserIdentity, jobs: JobsDep) -> JobDetail:
    """The job with its tasks: for its submitter, admins and the driver's `readers`."""
    return jobs.detail(job_id, identity)


@router.post("/jobs/{job_id}/cancel", response_model=JobDetail)
def cancel_job(job_id: IdPath, identity: UserIdentity, jobs: JobsDep) -> JobDetail:
    """Queued tasks are dropped; running ones are told to stop at their next heartbeat."""
    return jobs.cancel(job_id, identity)


@router.post("/jobs/{job_id}/priority", response_model=JobDetail)
def set_priority(
    job_id: IdPath, change: PriorityChange, identity: UserIdentity, jobs: JobsDep
) -> JobDetail:
    """Change a queued or running job's priority (1..100, higher runs first)."""
    return jobs.set_priority(job_id, change.priority, identity)


@router.post("/jobs/{job_id}/hold", response_model=JobDetail)
def hold_job(
    job_id: IdPath, identity: UserIdentity, jobs: JobsDep, body: HoldRequest | None = None
) -> JobDetail:
    """Hold a queued or running job: it keeps its place in the queue but no task of it is
    claimed until it is released; its running tasks finish. 409 if it has ended or is
    held already."""
    return jobs.hold(job_id, identity, body.reason if body else None)


@router.post("/jobs/{job_id}/release", response_model=JobDetail)
def release_job(job_id: IdPath, identity: UserIdentity, jobs: JobsDep) -> JobDetail:
    """Release a held job: its tasks are claimed again, at its place in the queue. A hold
    an admin put on someone else's job only an admin releases (403)."""
    return jobs.release(job_id, identity)


@router.post("/jobs/{job_id}/retry", response_model=JobDetail)
def retry_job(job_id: IdPath, identity: UserIdentity, jobs: JobsDep) -> JobDetail:
    """Run a failed or cancelled job's missing years again (finished ones are kept)."""
    return jobs.retry(job_id, identity)


@router.get(
    "/jobs/{job_id}/result",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
def download_result(job_id: IdPath, identity: UserIdentity, jobs: JobsDep) -> FileResponse:
    """The assembled run folder as one zip (entries under `<run folder>/`)."""
    path, filename = jobs.result(job_id, identity)
    return FileResponse(path, media_type="application/zip", filename=filename)


@router.get("/jobs/{job_id}/log", response_class=PlainTextResponse)
def job_log(job_id: IdPath, identity: UserIdentity, jobs: JobsDep) -> PlainTextResponse:
    return PlainTextResponse(jobs.job_log(job_id, identity))


@router.get("/jobs/{job_id}/tasks/{task_id}/log", response_class=PlainTextResponse)
def task_log(
    job_id: IdPath, task_id: IdPath, identity: UserIdentity, jobs: JobsDep
) -> PlainTextResponse:
    """The log tails the task's workers reported, attempt by attempt."""
    return PlainTextResponse(jobs.task_log(job_id, task_id, identity))

"""An in-memory driver behind `httpx.MockTransport`, for the CLI's unit tests.

It answers the user part of the API the way the real driver is specified to (issue 4):
bearer tokens (401 when missing or unknown), users change only their own jobs (403),
unknown jobs 404, priority out of 1..100 422, actions that do not fit the job's state
409, streamed multipart submit, the result as a zip. Jobs move through scripted states on
successive GETs so that `wait` sees a job progress and end. The end-to-end tests run the
real driver; this one keeps the command tests fast and exact about what was sent.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import httpx

from winjobs.wire import (
    API_PREFIX,
    SUBMIT_ARCHIVE_FIELD,
    Identity,
    JobDetail,
    JobStatus,
    JobSummary,
    PilotPool,
    Role,
    Shares,
    TaskInfo,
    TaskStatus,
    WorkerInfo,
    WorkerState,
)

BASE_URL = "http://driver.test"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

TOKENS = {
    "alice-token": Identity(name="alice", role=Role.USER),
    "bob-token": Identity(name="bob", role=Role.USER),
    "ops-token": Identity(name="ops", role=Role.ADMIN),
    "pool-token": Identity(name="pool", role=Role.WORKER),
}


def make_job(job_id: int, **overrides: Any) -> JobDetail:
    years = overrides.pop("years", list(range(10)))
    values: dict[str, Any] = {
        "id": job_id,
        "name": f"job-{job_id}",
        "submitter": "alice",
        "priority": 50,
        "status": JobStatus.QUEUED,
        "study_name": "demo",
        "antares_version": "8.8",
        "mode": "economy",
        "years_total": len(years),
        "years_done": 0,
        "tasks_running": 0,
        "created_at": T0,
        "years": years,
    }
    values.update(overrides)
    return JobDetail(**values)


def make_task(task_id: int, job_id: int, years: list[int], **overrides: Any) -> TaskInfo:
    values: dict[str, Any] = {
        "id": task_id,
        "job_id": job_id,
        "years": years,
        "status": TaskStatus.QUEUED,
        "created_at": T0,
    }
    values.update(overrides)
    return TaskInfo(**values)


def run_folder_zip(run_folder: str, files: dict[str, bytes]) -> bytes:
    """A result archive: the run folder and its files, as the driver serves it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"{run_folder}/{name}", data)
    return buffer.getvalue()


@dataclass
class Submission:
    fields: dict[str, str]
    archive: bytes
    submitter: str


@dataclass
class FakeDriver:
    jobs: dict[int, JobDetail] = field(default_factory=dict)
    job_logs: dict[int, str] = field(default_factory=dict)
    task_logs: dict[tuple[int, int], str] = field(default_factory=dict)
    results: dict[int, bytes] = field(default_factory=dict)
    workers: list[WorkerInfo] = field(default_factory=list)
    pools: list[PilotPool] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)
    #: states a job takes on successive GETs (the last one stays)
    scripts: dict[int, list[JobDetail]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    unreachable: bool = False
    #: states the next submitted job goes through (as `script`), and its result archive
    next_job_states: list[dict[str, Any]] = field(default_factory=list)
    next_job_result: bytes | None = None
    shares: Shares | None = None
    #: what it warns a submission of (`/submissions/check` and the upload's answer);
    #: None: a driver from before that check (404 there, no warning)
    pool_warnings: list[str] | None = None

    def add(self, job: JobDetail) -> JobDetail:
        self.jobs[job.id] = job
        return job

    def script(self, job_id: int, states: list[dict[str, Any]]) -> None:
        base = self.jobs[job_id]
        self.scripts[job_id] = [base.model_copy(update=s) for s in states]

    def add_worker(self, name: str, **overrides: Any) -> None:
        values: dict[str, Any] = {
            "id": len(self.workers) + 1,
            "name": name,
            "os": "Linux-6.1",
            "cores": 4,
            "versions": ["8.8"],
            "state": WorkerState.IDLE,
            "last_seen": T0,
            "registered_at": T0 - timedelta(hours=1),
        }
        values.update(overrides)
        self.workers.append(WorkerInfo(**values))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # ------------------------------------------------------------------ routing

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.unreachable:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        path = request.url.path
        if path == "/health":
            return _json({"status": "ok", "version": "test", "database": "sqlite"})
        auth = request.headers.get("Authorization", "")
        who = TOKENS.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if who is None:
            return _error(401, "missing or unknown token")
        if not path.startswith(API_PREFIX):
            return _error(404, "Not Found")
        route = path[len(API_PREFIX) :]
        for pattern, method, handler in self._routes():
            match = re.fullmatch(pattern, route)
            if match and request.method == method:
                return handler(request, who, *(int(g) for g in match.groups()))
        return _error(404, "Not Found")

    def _routes(self) -> list[tuple[str, str, Any]]:
        return [
            (r"/me", "GET", lambda r, who: _json(who.model_dump(mode="json"))),
            (r"/jobs", "GET", self._list),
            (r"/jobs", "POST", self._submit),
            (r"/jobs/(\d+)", "GET", self._get),
            (r"/jobs/(\d+)/cancel", "POST", self._cancel),
            (r"/jobs/(\d+)/priority", "POST", self._priority),
            (r"/jobs/(\d+)/retry", "POST", self._retry),
            (r"/jobs/(\d+)/hold", "POST", self._hold_job),
            (r"/jobs/(\d+)/release", "POST", self._release_job),
            (r"/jobs/(\d+)/log", "GET", self._log),
            (r"/jobs/(\d+)/tasks/(\d+)/log", "GET", self._task_log),
            (r"/jobs/(\d+)/result", "GET", self._result),
            (r"/workers", "GET", self._workers),
            (r"/status/shares", "GET", lambda r, who: _json(self._shares())),
            (r"/workers/[^/]+/release", "POST", self._release_worker),
            *(
                [(r"/submissions/check", "GET", self._check_submission)]
                if self.pool_warnings is not None
                else []
            ),
        ]

    def _check_submission(self, request: httpx.Request, who: Identity) -> httpx.Response:
        version = request.url.params["antares_version"]
        return _json({"antares_version": version, "warnings": self.pool_warnings})

    def _shares(self) -> dict[str, Any]:
        assert self.shares is not None, "set FakeDriver.shares first"
        return self.shares.model_dump(mode="json")

    def _job(self, job_id: int) -> JobDetail | None:
        return self.jobs.get(job_id)

    def _owned(self, who: Identity, job_id: int) -> JobDetail | httpx.Response:
        job = self._job(job_id)
        if job is None:
            return _error(404, f"job {job_id} not found")
        if who.role != Role.ADMIN and job.submitter != who.name:
            return _error(403, f"job {job_id} belongs to {job.submitter}")
        return job

    # ------------------------------------------------------------------ handlers

    def _list(self, request: httpx.Request, who: Identity) -> httpx.Response:
        status = request.url.params.get("status")
        submitter = request.url.params.get("submitter")
        jobs = [
            JobSummary.model_validate(
                j.model_dump(include=set(JobSummary.model_fields))
            ).model_dump(mode="json")
            for j in sorted(self.jobs.values(), key=lambda j: -j.id)
            if (status is None or j.status == status)
            and (submitter is None or j.submitter == submitter)
        ]
        offset = int(request.url.params.get("offset", 0))
        limit = int(request.url.params.get("limit", 100))
        return _json({"jobs": jobs[offset : offset + limit], "total": len(jobs)})

    def _get(self, request: httpx.Request, who: Identity, job_id: int) -> httpx.Response:
        script = self.scripts.get(job_id)
        if script:
            self.jobs[job_id] = script.pop(0) if len(script) > 1 else script[0]
        job = self._job(job_id)
        if job is None:
            return _error(404, f"job {job_id} not found")
        return _json(job.model_dump(mode="json"))

    def _cancel(self, request: httpx.Request, who: Identity, job_id: int) -> httpx.Response:
        job = self._owned(who, job_id)
        if isinstance(job, httpx.Response):
            return job
        if job.status.is_final:
            return _error(409, f"job {job_id} is already {job.status}")
        job = job.model_copy(update={"status": JobStatus.CANCELLED, "tasks_running": 0})
        self.jobs[job_id] = job
        return _json(job.model_dump(mode="json"))

    def _priority(self, request: httpx.Request, who: Identity, job_id: int) -> httpx.Response:
        job = self._owned(who, job_id)
        if isinstance(job, httpx.Response):
            return job
        priority = httpx.Response(200, content=request.content).json().get("priority")
        if not isinstance(priority, int) or not 1 <= priority <= 100:
            return _json({"detail": [{"loc": ["body", "priority"], "msg": "out of range"}]}, 422)
        if job.status.is_final:
            return _error(409, f"job {job_id} is {job.status}: its priority no longer matters")
        job = job.model_copy(update={"priority": priority})
        self.jobs[job_id] = job
        return _json(job.model_dump(mode="json"))

    def _retry(self, request: httpx.Request, who: Identity, job_id: int) -> httpx.Response:
        job = self._owned(who, job_id)
        if isinstance(job, httpx.Response):
            return job
        if job.status != JobStatus.FAILED:
            return _error(409, f"job {job_id} is {job.status}: only a failed job can be retried")
        job = job.model_copy(update={"status": JobStatus.QUEUED, "error": None})
        self.jobs[job_id] = job
        return _json(job.model_dump(mode="json"))

    def _hold_job(self, request: httpx.Request, who: Identity, job_id: int) -> httpx.Response:
        job = self._owned(who, job_id)
        if isinstance(job, httpx.Response):
            return job
        if job.status.is_final or job.held:
            return _error(409, f"cannot hold job {job_id}: it {job.status.phrase}")
        body = httpx.Response(200, content=request.content).json() if request.content else {}
        reason = body.get("reason")
        job = job.model_copy(update={"held": True, "held_by": who.name, "held_reason": reason})
        self.jobs[job_id] = job
        return _json(job.model_dump(mode="json"))

    def _release_job(self, request: httpx.Request, who: Identity, job_id: int) -> httpx.Response:
        job = self._owned(who, job_id)
        if isinstance(job, httpx.Response):
            return job
        if not job.held:
            return _error(409, f"job {job_id} is not held: there is nothing to release")
        job = job.model_copy(update={"held": False, "held_by": None, "held_reason": None})
        self.jobs[job_id] = job
        return _json(job.model_dump(mode="json"))

    def _log(self, request: httpx.Request, who: Identity, job_id: int) -> httpx.Response:
        if job_id not in self.jobs:
            return _error(404, f"job {job_id} not found")
        return httpx.Response(200, text=self.job_logs.get(job_id, ""))

    def _task_log(
        self, request: httpx.Request, who: Identity, job_id: int, task_id: int
    ) -> httpx.Response:
        if (job_id, task_id) not in self.task_logs:
            return _error(404, f"job {job_id} has no task {task_id}")
        return httpx.Response(200, text=self.task_logs[(job_id, task_id)])

    def _result(self, request: httpx.Request, who: Identity, job_id: int) -> httpx.Response:
        job = self._job(job_id)
        if job is None:
            return _error(404, f"job {job_id} not found")
        if job_id not in self.results:
            return _error(409, f"job {job_id} is {job.status}: no result yet")
        return httpx.Response(
            200, content=self.results[job_id], headers={"Content-Type": "application/zip"}
        )

    def _workers(self, request: httpx.Request, who: Identity) -> httpx.Response:
        return _json(
            {
                "workers": [w.model_dump(mode="json") for w in self.workers],
                "pools": [p.model_dump(mode="json") for p in self.pools],
            }
        )

    def _release_worker(self, request: httpx.Request, who: Identity) -> httpx.Response:
        name = unquote(request.url.path.split("/")[-2])
        if who.role != Role.ADMIN:
            return _error(403, f"this action needs a admin token; {who.name} is a {who.role}")
        for index, worker in enumerate(self.workers):
            if worker.name == name:
                if worker.held_reason is None:
                    return _error(409, f"worker {name} is not held")
                released = worker.model_copy(
                    update={
                        "held_reason": None,
                        "held_at": None,
                        "held_by": None,
                        "state": WorkerState.IDLE,
                        "failures_in_a_row": 0,
                    }
                )
                self.workers[index] = released
                return _json(released.model_dump(mode="json"))
        return _error(404, f"no worker named {name!r}")

    def _submit(self, request: httpx.Request, who: Identity) -> httpx.Response:
        fields, archive = _parse_multipart(request)
        if archive is None:
            return _error(422, "archive: field required")
        self.submissions.append(Submission(fields, archive, who.name))
        job_id = max(self.jobs, default=0) + 1
        years = [int(y) for y in fields["years"].split(",")] if "years" in fields else None
        extra = {"years": years} if years is not None else {}
        self.add(
            make_job(
                job_id,
                name=fields.get("name", "study"),
                submitter=who.name,
                priority=int(fields.get("priority", "50")),
                **extra,
            )
        )
        if self.next_job_states:
            self.script(job_id, self.next_job_states)
        if self.next_job_result is not None:
            self.results[job_id] = self.next_job_result
        return _json({"job_id": job_id, "warnings": self.pool_warnings or []}, 201)


def _parse_multipart(request: httpx.Request) -> tuple[dict[str, str], bytes | None]:
    body = request.read()
    header = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    fields: dict[str, str] = {}
    archive = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str) and isinstance(payload, bytes)
        if name == SUBMIT_ARCHIVE_FIELD:
            archive = payload
        else:
            fields[name] = payload.decode()
    return fields, archive


def _json(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


def _error(status: int, detail: str) -> httpx.Response:
    return httpx.Response(status, json={"detail": detail})

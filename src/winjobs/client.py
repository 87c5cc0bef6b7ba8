"""Typed HTTP client of the driver's API, shared by the CLI and the worker.

It wraps an injected `httpx.Client` (tests pass FastAPI's `TestClient`, which is one) and
turns every answer into a wire model or a `ClientError`. It does not retry: the worker
owns its retry policy, the CLI reports the first error to the user.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from winjobs.errors import WinjobsError
from winjobs.wire import (
    API_PREFIX,
    COMPLETE_OUTPUT_FIELD,
    SUBMIT_ARCHIVE_FIELD,
    WORKER_ID_HEADER,
    Ack,
    ClaimRequest,
    Health,
    Heartbeat,
    HeartbeatReply,
    HoldRequest,
    Identity,
    JobCreated,
    JobDetail,
    JobList,
    JobStatus,
    JobSubmitFields,
    LoadHistory,
    PilotReport,
    PoolDemand,
    PoolStatus,
    PriorityChange,
    SharedCompletion,
    Shares,
    SubmissionCheck,
    TaskAssignment,
    TaskFailure,
    WorkerAction,
    WorkerInfo,
    WorkerList,
    WorkerRegistered,
    WorkerRegistration,
)

M = TypeVar("M", bound=BaseModel)

#: Called with (bytes done, bytes total or None) while a file moves.
ProgressCallback = Callable[[int, int | None], None]

_CHUNK = 1024 * 1024
#: what FastAPI (and most servers) say for a path they do not serve: no route of the API
#: ever answers these words, it names what it did not find
_ROUTE_MISSING = frozenset({"Not Found", "Method Not Allowed"})


class ClientError(WinjobsError):
    """The driver answered with an error, or could not be reached."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code

    @property
    def is_transient(self) -> bool:
        """Worth retrying later: driver unreachable, timeout, or a 5xx answer."""
        return self.status_code is None or self.status_code >= 500

    @property
    def is_conflict(self) -> bool:
        """The report was refused because the attempt is stale (task re-assigned)."""
        return self.status_code == 409


class _ProgressReader:
    """File wrapper that reports how much of it httpx has read for the upload."""

    def __init__(self, handle: IO[bytes], total: int, progress: ProgressCallback | None) -> None:
        self._handle = handle
        self._total = total
        self._done = 0
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        self._done += len(chunk)
        if self._progress is not None:
            self._progress(self._done, self._total)
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(_CHUNK):
            yield chunk


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):  # FastAPI validation errors
        parts = []
        for item in detail:
            where = ".".join(str(p) for p in item.get("loc", [])[1:])
            parts.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", "")))
        return "; ".join(parts)
    return str(body)[:500]


def _is_json(response: httpx.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True


class DriverClient:
    """The driver's API as Python methods. One instance per token."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http
        self.worker_id: int | None = None

    @classmethod
    def connect(cls, base_url: str, token: str, timeout: float = 60.0) -> DriverClient:
        """A client with its own connection pool; close it with `close()`."""
        http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout, connect=10.0),
            follow_redirects=True,
        )
        return cls(http)

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DriverClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _headers(self) -> dict[str, str]:
        return {WORKER_ID_HEADER: str(self.worker_id)} if self.worker_id is not None else {}

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise ClientError(f"the driver at {self.base_url} did not answer in time") from exc
        except httpx.TransportError as exc:
            raise ClientError(f"cannot reach the driver at {self.base_url}: {exc}") from exc
        self._raise_for_status(response)
        return response

    def _raise_for_status(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        code = response.status_code
        if code in (404, 405) and (_detail(response) in _ROUTE_MISSING or not _is_json(response)):
            self._raise_if_not_a_driver(response)
        detail = _detail(response)
        prefix = {401: "not signed in (check the token)", 403: "not allowed"}.get(code)
        message = f"{prefix}: {detail}" if prefix else detail
        raise ClientError(f"{message} (HTTP {code})", status_code=code)

    def _model(self, response: httpx.Response, model: type[M]) -> M:
        """The answer as `model`; an answer no winjobs driver would give (an HTML page, a
        JSON of another shape) says so rather than failing on a parse error."""
        try:
            return model.model_validate(response.json())
        except (ValueError, ValidationError):
            self._raise_if_not_a_driver(response)
            raise ClientError(
                f"unexpected answer of the driver at {self.base_url} to "
                f"{response.request.method} {response.request.url.path}: is it a newer or "
                "older winjobs version?"
            ) from None

    def _raise_if_not_a_driver(self, response: httpx.Response) -> None:
        """When a path of the API is not found (or answers nonsense), ask `/health`
        whether a winjobs driver is there at all: a URL pointing at another server, or
        at the driver's `/docs`, otherwise ends in a bare "Not Found (HTTP 404)"."""
        try:
            health = self._http.get("/health", timeout=httpx.Timeout(10.0))
            if health.is_success:
                Health.model_validate(health.json())
                return
        except (httpx.HTTPError, ValueError, ValidationError):
            pass
        request = response.request
        base = self.base_url.rstrip("/")
        url = httpx.URL(base)
        root = f"{url.scheme}://{url.netloc.decode('ascii')}"
        hint = "give the driver's address, e.g. http://HOST:8000"
        if base != root:
            hint = f"the driver's address is its root: {root}, not {base}"
        probed = self._http.build_request("GET", "/health").url
        raise ClientError(
            f"{base} is not a winjobs driver ({request.method} {request.url.path} answered "
            f"HTTP {response.status_code} and {probed} is no winjobs health check): {hint}",
            status_code=response.status_code,
        )

    def _get(self, path: str, model: type[M], **kwargs: Any) -> M:
        return self._model(self._request("GET", API_PREFIX + path, **kwargs), model)

    def _post(self, path: str, model: type[M], body: BaseModel | None = None) -> M:
        json = body.model_dump(mode="json") if body is not None else None
        return self._model(self._request("POST", API_PREFIX + path, json=json), model)

    # ------------------------------------------------------------------ users

    def health(self) -> Health:
        return self._model(self._request("GET", "/health"), Health)

    def me(self) -> Identity:
        return self._get("/me", Identity)

    def check_submission(self, antares_version: str) -> SubmissionCheck:
        """What the driver would warn of a new job of this version (before uploading)."""
        return self._get(
            "/submissions/check", SubmissionCheck, params={"antares_version": antares_version}
        )

    def submit_job(
        self,
        archive: Path,
        fields: JobSubmitFields,
        progress: ProgressCallback | None = None,
    ) -> JobCreated:
        """Upload a packed study (streamed from disk, never held in memory)."""
        data = {k: str(v) for k, v in fields.model_dump(exclude_none=True).items()}
        size = archive.stat().st_size
        with archive.open("rb") as handle:
            reader = _ProgressReader(handle, size, progress)
            files = {SUBMIT_ARCHIVE_FIELD: (archive.name, reader, "application/zip")}
            response = self._request("POST", API_PREFIX + "/jobs", data=data, files=files)
        return self._model(response, JobCreated)

    def list_jobs(
        self,
        status: JobStatus | None = None,
        submitter: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> JobList:
        """One page of jobs, newest first (the driver's default size without `limit`)."""
        given = {"status": status, "submitter": submitter, "limit": limit, "offset": offset}
        params = {k: v for k, v in given.items() if v is not None and v != ""}
        return self._get("/jobs", JobList, params=params)

    def get_job(self, job_id: int) -> JobDetail:
        return self._get(f"/jobs/{job_id}", JobDetail)

    def cancel_job(self, job_id: int) -> JobDetail:
        return self._post(f"/jobs/{job_id}/cancel", JobDetail)

    def set_priority(self, job_id: int, priority: int) -> JobDetail:
        return self._post(f"/jobs/{job_id}/priority", JobDetail, PriorityChange(priority=priority))

    def hold_job(self, job_id: int, reason: str | None = None) -> JobDetail:
        return self._post(f"/jobs/{job_id}/hold", JobDetail, HoldRequest(reason=reason))

    def release_job(self, job_id: int) -> JobDetail:
        return self._post(f"/jobs/{job_id}/release", JobDetail)

    def retry_job(self, job_id: int) -> JobDetail:
        return self._post(f"/jobs/{job_id}/retry", JobDetail)

    def job_log(self, job_id: int) -> str:
        return self._request("GET", f"{API_PREFIX}/jobs/{job_id}/log").text

    def task_log(self, job_id: int, task_id: int) -> str:
        return self._request("GET", f"{API_PREFIX}/jobs/{job_id}/tasks/{task_id}/log").text

    def download_result(
        self, job_id: int, dest: Path, progress: ProgressCallback | None = None
    ) -> Path:
        """Stream the job's merged output (a zip of its run folder) into `dest`."""
        self._stream_to_file(f"{API_PREFIX}/jobs/{job_id}/result", dest, progress)
        return dest

    def list_workers(self) -> WorkerList:
        return self._get("/workers", WorkerList)

    # ------------------------------------------------------------------ admins

    def release_worker(self, name: str) -> WorkerInfo:
        """Lift a held or drained worker's hold (admin token)."""
        return self._post(f"/workers/{quote(name, safe='')}/release", WorkerInfo)

    def hold_worker(self, name: str, reason: str | None = None) -> WorkerInfo:
        """No new task for the worker until released (admin token)."""
        action = WorkerAction(reason=reason)
        return self._post(f"/workers/{quote(name, safe='')}/hold", WorkerInfo, action)

    def drain_worker(self, name: str, reason: str | None = None) -> WorkerInfo:
        """The worker finishes its task, then takes none until it restarts or is
        released (admin token)."""
        action = WorkerAction(reason=reason)
        return self._post(f"/workers/{quote(name, safe='')}/drain", WorkerInfo, action)

    def forget_worker(self, name: str) -> WorkerInfo:
        """Leave an offline worker out of the lists until it is seen again (admin token)."""
        return self._post(f"/workers/{quote(name, safe='')}/forget", WorkerInfo)

    # ------------------------------------------------------------------ the pool

    def pool_status(self) -> PoolStatus:
        return self._get("/status", PoolStatus)

    def load_history(self, hours: float = 6.0) -> LoadHistory:
        return self._get("/status/load", LoadHistory, params={"hours": hours})

    def shares(self) -> Shares:
        """Each user's share of the pool as fair share weighs it."""
        return self._get("/status/shares", Shares)

    # ------------------------------------------------------------------ pool managers

    def pool_demand(self) -> PoolDemand:
        """Years waiting per job and every worker's state (worker or admin token)."""
        return self._get("/pool/demand", PoolDemand)

    def report_pilots(self, pool: str, report: PilotReport) -> Ack:
        """A pool manager's view of its pilots, shown with the workers."""
        body = report.model_dump(mode="json")
        response = self._request("PUT", f"{API_PREFIX}/pool/pilots/{pool}", json=body)
        return Ack.model_validate(response.json())

    # ------------------------------------------------------------------ worker protocol

    def register_worker(self, registration: WorkerRegistration) -> WorkerRegistered:
        registered = self._post("/workers/register", WorkerRegistered, registration)
        self.worker_id = registered.worker_id
        return registered

    def claim(self, request: ClaimRequest) -> TaskAssignment | None:
        """Long-poll for a task; None when no work appeared within `request.wait_s`."""
        timeout = httpx.Timeout(request.wait_s + 30.0, connect=10.0)
        response = self._request(
            "POST",
            f"{API_PREFIX}/workers/claim",
            json=request.model_dump(mode="json"),
            timeout=timeout,
        )
        if response.status_code == 204:
            return None
        return self._model(response, TaskAssignment)

    def heartbeat(self, task_id: int, beat: Heartbeat) -> HeartbeatReply:
        return self._post(f"/tasks/{task_id}/heartbeat", HeartbeatReply, beat)

    def fail_task(self, task_id: int, failure: TaskFailure) -> Ack:
        return self._post(f"/tasks/{task_id}/fail", Ack, failure)

    def complete_task_shared(self, task_id: int, completion: SharedCompletion) -> Ack:
        """Report a run folder left on the worker's share. No read timeout: the driver
        verifies it there (and copies it, with collect: copy) before it answers."""
        response = self._request(
            "POST",
            f"{API_PREFIX}/tasks/{task_id}/complete-shared",
            json=completion.model_dump(mode="json"),
            timeout=httpx.Timeout(None, connect=10.0),
        )
        return self._model(response, Ack)

    def complete_task_upload(
        self,
        task_id: int,
        attempt: int,
        run_zip: Path,
        log_tail: str = "",
        progress: ProgressCallback | None = None,
    ) -> Ack:
        """Upload a zipped run folder (streamed from disk) as the task's output."""
        size = run_zip.stat().st_size
        with run_zip.open("rb") as handle:
            reader = _ProgressReader(handle, size, progress)
            response = self._request(
                "POST",
                f"{API_PREFIX}/tasks/{task_id}/complete",
                data={"attempt": str(attempt), "log_tail": log_tail},
                files={COMPLETE_OUTPUT_FIELD: (run_zip.name, reader, "application/zip")},
                timeout=httpx.Timeout(None, connect=10.0),
            )
        return self._model(response, Ack)

    def download_study(
        self, sha256: str, dest: Path, progress: ProgressCallback | None = None
    ) -> Path:
        """Fetch a study archive by content hash, resuming a partial `dest`, and verify it.

        A partial download is kept next to `dest` (`.part`) so that a later call picks up
        where this one stopped; the hash is checked before `dest` appears.
        """
        part = dest.with_name(dest.name + ".part")
        self._stream_to_file(f"{API_PREFIX}/studies/{sha256}", part, progress, resume=True)
        digest = hashlib.sha256()
        with part.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            part.unlink()
            raise ClientError(f"study archive {sha256[:12]} arrived damaged (hash mismatch)")
        part.replace(dest)
        return dest

    def _stream_to_file(
        self,
        url: str,
        dest: Path,
        progress: ProgressCallback | None,
        resume: bool = False,
    ) -> None:
        start = dest.stat().st_size if resume and dest.exists() else 0
        headers = {**self._headers(), **({"Range": f"bytes={start}-"} if start else {})}
        try:
            with self._http.stream(
                "GET", url, headers=headers, timeout=httpx.Timeout(60.0, connect=10.0)
            ) as response:
                if response.status_code == 416:  # already complete
                    return
                if not response.is_success:
                    response.read()
                    self._raise_for_status(response)
                if response.status_code != 206:
                    start = 0  # the server ignored the range: start over
                total_header = response.headers.get("Content-Length")
                total = start + int(total_header) if total_header else None
                done = start
                dest.parent.mkdir(parents=True, exist_ok=True)
                with dest.open("ab" if start else "wb") as out:
                    for chunk in response.iter_bytes(_CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
        except httpx.TimeoutException as exc:
            raise ClientError(f"the driver at {self.base_url} did not answer in time") from exc
        except httpx.TransportError as exc:
            raise ClientError(f"cannot reach the driver at {self.base_url}: {exc}") from exc

"""An honest in-memory driver for the worker's unit tests, served through httpx.MockTransport.

It speaks the worker protocol of `winjobs.wire` and enforces what the real driver
promises: bearer token, registered worker id, task states, and the fencing token (a
report carrying another attempt than the task's current one gets 409 and changes
nothing). Tests drive it from outside: add tasks, expire a lease, cancel a job, take
the driver down, make it answer 503.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import httpx

from winjobs.client import DriverClient
from winjobs.wire import (
    API_PREFIX,
    WORKER_ID_HEADER,
    Ack,
    ClaimRequest,
    Heartbeat,
    HeartbeatReply,
    TaskAssignment,
    TaskFailure,
    TaskStatus,
    Transfer,
    WorkerRegistered,
    WorkerRegistration,
)

TOKEN = "worker-secret"


@dataclass
class FakeTask:
    id: int
    job_id: int
    years: list[int]
    study_sha256: str
    study_size: int
    solver_version: str = "8.8"
    time_limit_s: float | None = None
    solver_args: list[str] = field(default_factory=list)
    status: TaskStatus = TaskStatus.QUEUED
    attempt: int = 0
    worker_id: int | None = None
    years_done: int = 0
    cancelled: bool = False
    output: bytes | None = None
    output_log_tail: str | None = None
    failures: list[TaskFailure] = field(default_factory=list)
    releases: list[TaskFailure] = field(default_factory=list)
    suspended_beats: int = 0  #: heartbeats that said its solver was suspended


@dataclass
class Call:
    method: str
    path: str
    status: int
    body: Any = None


class FakeDriver:
    """State plus an httpx handler; `client()` gives a DriverClient talking to it."""

    def __init__(self, heartbeat_interval_s: float = 0.05, lease_seconds: float = 5.0) -> None:
        self.heartbeat_interval_s = heartbeat_interval_s
        self.lease_seconds = lease_seconds
        self.studies: dict[str, bytes] = {}
        self.tasks: dict[int, FakeTask] = {}
        self.workers: dict[int, WorkerRegistration] = {}
        self.draining: set[int] = set()
        self.paused_claims: list[ClaimRequest] = []  #: claims of workers taking no work now
        self.calls: list[Call] = []
        self.down = False  #: every request fails to connect
        self.refused = 0  #: requests refused while down
        self.errors_to_serve = 0  #: the next N requests answer 503
        self.broken_routes: set[str] = set()  #: paths ending so answer 500, always
        self.refuse_outputs: str | None = None  #: uploads get 422 with this reason
        self.cut_downloads_after: int | None = None  #: the next study download stops after N bytes
        self.max_claim_wait_s = 1.0  #: cap of the long-poll, whatever the worker asks
        self.held_reason: str | None = None  #: registrations are told the worker is held
        #: called when a draining claim arrives, before it ends the worker's waiting claims
        self.before_draining: Callable[[], None] | None = None
        #: called when a claim has leased a task, before the answer leaves
        self.after_lease: Callable[[], None] | None = None
        self._claim_ends: dict[int, int] = {}  #: worker id -> draining claims received
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._next_task = 1

    # ------------------------------------------------------------------ test controls

    def add_study(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.studies[sha] = data
        return sha

    def add_task(self, years: list[int], study: bytes, job_id: int = 1, **extra: Any) -> FakeTask:
        sha = self.add_study(study)
        with self._lock:
            task = FakeTask(
                id=self._next_task,
                job_id=job_id,
                years=years,
                study_sha256=sha,
                study_size=len(study),
                **extra,
            )
            self.tasks[task.id] = task
            self._next_task += 1
            self._changed.notify_all()
        return task

    def expire_lease(self, task_id: int) -> None:
        """What the sweeper does when a lease runs out: the task goes back to the queue."""
        with self._lock:
            task = self.tasks[task_id]
            assert task.status is TaskStatus.RUNNING
            task.status = TaskStatus.QUEUED
            task.worker_id = None
            self._changed.notify_all()

    def forget_workers(self) -> None:
        """A driver that lost its records: every worker must register again."""
        with self._lock:
            self.workers.clear()

    def cancel_job(self, job_id: int) -> None:
        with self._lock:
            for task in self.tasks.values():
                if task.job_id != job_id or task.status.is_final:
                    continue
                if task.status is TaskStatus.QUEUED:
                    task.status = TaskStatus.CANCELLED
                else:
                    task.cancelled = True

    def paths(self, method: str | None = None) -> list[str]:
        return [c.path for c in self.calls if method is None or c.method == method]

    def client(self) -> DriverClient:
        http = httpx.Client(
            base_url="http://driver.test",
            transport=httpx.MockTransport(self.handle),
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        return DriverClient(http)

    # ------------------------------------------------------------------ HTTP

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            with self._lock:
                self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        with self._lock:
            response = self._route(request)
            self.calls.append(
                Call(request.method, request.url.path, response.status_code, self._last_body)
            )
            return response

    _last_body: Any = None

    def _route(self, request: httpx.Request) -> httpx.Response:
        self._last_body = None
        if self.errors_to_serve > 0:
            self.errors_to_serve -= 1
            return _error(503, "the driver is restarting")
        if any(request.url.path.endswith(route) for route in self.broken_routes):
            return _error(500, "internal error")
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return _error(401, "unknown token")
        path = request.url.path.removeprefix(API_PREFIX)
        if request.method == "POST" and path == "/workers/register":
            return self._register(request)
        worker_id = self._worker(request)
        if worker_id is None:
            return _error(404, "unknown worker: register again")
        if request.method == "POST" and path == "/workers/claim":
            return self._claim(request, worker_id)
        if request.method == "GET" and (m := re.fullmatch(r"/studies/([0-9a-f]{64})", path)):
            return self._study(request, m.group(1))
        m = re.fullmatch(r"/tasks/(\d+)/(heartbeat|fail|complete)", path)
        if request.method == "POST" and m:
            task = self.tasks.get(int(m.group(1)))
            if task is None:
                return _error(404, "no such task")
            return getattr(self, f"_{m.group(2)}")(request, task, worker_id)
        return _error(404, f"no route {request.method} {path}")

    def _worker(self, request: httpx.Request) -> int | None:
        raw = request.headers.get(WORKER_ID_HEADER)
        if raw is None or not raw.isdigit() or int(raw) not in self.workers:
            return None
        return int(raw)

    def _register(self, request: httpx.Request) -> httpx.Response:
        registration = WorkerRegistration.model_validate_json(request.content)
        self._last_body = registration
        worker_id = len(self.workers) + 1
        self.workers[worker_id] = registration
        reply = WorkerRegistered(
            worker_id=worker_id,
            heartbeat_interval_s=self.heartbeat_interval_s,
            lease_seconds=self.lease_seconds,
            held_reason=self.held_reason,
        )
        return httpx.Response(200, json=reply.model_dump(mode="json"))

    def _claim(self, request: httpx.Request, worker_id: int) -> httpx.Response:
        claim = ClaimRequest.model_validate_json(request.content)
        self._last_body = claim
        if not claim.takes_work:  # like the driver: it also ends the worker's waiting claims
            if claim.draining:
                if self.before_draining is not None:
                    self.before_draining()
                self.draining.add(worker_id)
            else:
                self.paused_claims.append(claim)
            self._claim_ends[worker_id] = self._claim_ends.get(worker_id, 0) + 1
            self._changed.notify_all()
            return httpx.Response(204)
        ends = self._claim_ends.get(worker_id, 0)
        deadline = time.monotonic() + min(claim.wait_s, self.max_claim_wait_s)
        while (task := self._next_queued()) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._claim_ends.get(worker_id, 0) != ends:
                return httpx.Response(204)
            self._changed.wait(remaining)
        return self._lease(task, worker_id)

    def _next_queued(self) -> FakeTask | None:
        queued = [t for t in self.tasks.values() if t.status is TaskStatus.QUEUED]
        return min(queued, key=lambda t: t.id) if queued else None

    def _lease(self, task: FakeTask, worker_id: int) -> httpx.Response:
        task.status = TaskStatus.RUNNING
        task.attempt += 1
        task.worker_id = worker_id
        task.years_done = 0
        if self.after_lease is not None:  # leased, the answer not yet on its way
            self.after_lease()
        assignment = TaskAssignment(
            task_id=task.id,
            job_id=task.job_id,
            attempt=task.attempt,
            years=task.years,
            antares_version=task.solver_version,
            solver_version=task.solver_version,
            study_sha256=task.study_sha256,
            study_size=task.study_size,
            study_name="study",
            transfer=Transfer.HTTP,
            time_limit_s=task.time_limit_s,
            solver_args=task.solver_args,
            lease_seconds=self.lease_seconds,
            heartbeat_interval_s=self.heartbeat_interval_s,
        )
        return httpx.Response(200, json=assignment.model_dump(mode="json"))

    def _study(self, request: httpx.Request, sha: str) -> httpx.Response:
        data = self.studies.get(sha)
        if data is None:
            return _error(404, "no such study")
        start = 0
        if (header := request.headers.get("Range")) is not None:
            start = int(re.fullmatch(r"bytes=(\d+)-", header).group(1))  # type: ignore[union-attr]
            if start >= len(data):
                return httpx.Response(416)
        body = data[start:]
        if self.cut_downloads_after is not None:
            body = body[: self.cut_downloads_after]
        headers = {"Content-Length": str(len(data) - start)}
        if self.cut_downloads_after is not None and len(body) < len(data) - start:
            self.cut_downloads_after = None  # once: the download resumes from there
            return httpx.Response(
                206 if start else 200,
                headers=headers,
                stream=_BrokenStream(body, request),
            )
        return httpx.Response(206 if start else 200, headers=headers, content=body)

    def _owned(self, task: FakeTask, attempt: int, worker_id: int) -> httpx.Response | None:
        """The fencing check: None when this report may change the task."""
        if (
            task.status is not TaskStatus.RUNNING
            or task.attempt != attempt
            or task.worker_id != worker_id
        ):
            return _error(409, f"attempt {attempt} of task {task.id} is not current")
        return None

    def _heartbeat(self, request: httpx.Request, task: FakeTask, worker_id: int) -> httpx.Response:
        beat = Heartbeat.model_validate_json(request.content)
        self._last_body = beat
        if refused := self._owned(task, beat.attempt, worker_id):
            return refused
        task.years_done = beat.years_done
        task.suspended_beats += beat.suspended
        until = datetime.now(UTC) + timedelta(seconds=self.lease_seconds)
        reply = HeartbeatReply(cancel=task.cancelled, lease_until=until)
        return httpx.Response(200, json=reply.model_dump(mode="json"))

    def _fail(self, request: httpx.Request, task: FakeTask, worker_id: int) -> httpx.Response:
        failure = TaskFailure.model_validate_json(request.content)
        self._last_body = failure
        if refused := self._owned(task, failure.attempt, worker_id):
            return refused
        if failure.release:
            task.releases.append(failure)
            task.status = TaskStatus.QUEUED
        else:
            task.failures.append(failure)
            task.status = TaskStatus.FAILED
        task.worker_id = None
        return httpx.Response(200, json=Ack().model_dump(mode="json"))

    def _complete(self, request: httpx.Request, task: FakeTask, worker_id: int) -> httpx.Response:
        fields = _multipart(request)
        attempt = int(fields["attempt"].decode())
        self._last_body = {"attempt": attempt, "size": len(fields["output"])}
        if refused := self._owned(task, attempt, worker_id):
            return refused
        if self.refuse_outputs is not None:
            return _error(422, self.refuse_outputs)
        task.output = fields["output"]
        task.output_log_tail = fields.get("log_tail", b"").decode()
        task.status = TaskStatus.SUCCEEDED
        task.worker_id = None
        return httpx.Response(200, json=Ack().model_dump(mode="json"))


class _BrokenStream(httpx.SyncByteStream):
    """A download whose connection drops after the bytes it was given."""

    def __init__(self, body: bytes, request: httpx.Request) -> None:
        self._body = body
        self._request = request

    def __iter__(self) -> Any:
        yield self._body
        raise httpx.ReadError("connection reset by peer", request=self._request)


def _multipart(request: httpx.Request) -> dict[str, bytes]:
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.read())
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        fields[name] = part.get_payload(decode=True)
    return fields


def _error(status: int, detail: str) -> httpx.Response:
    return httpx.Response(status, content=json.dumps({"detail": detail}).encode())

"""A load generator light enough not to be the bottleneck on the driver's own 2 cores.

Simulated workers are threads spread over a few client processes; each keeps one
keep-alive HTTP/1.1 connection (a plain socket) and sends requests whose bytes are built
beforehand (upload bodies included: only the claim's answer is parsed). A round trip
costs the client some 50 µs of CPU, against the milliseconds of an httpx call, so the
driver under test gets the machine.

Protocols (`Shape.protocol`), one "cycle" each:

- `ours`: claim, then upload the year's run folder (`POST /tasks/{id}/complete`);
- `ours-shared`: claim, then `complete-shared` with the path of the year's run folder;
- `ours-claims`: claim only (the scheduling hot path);
- `original`: `get_task(cores=1)`, then `finish_task` (the original tool's cycle, as
  `../shared/baselines/original_load.py` defines it);
- `original-claims`: `get_task` only.

`run_load` returns per-call latencies, accepted reports with their time and job (per-job
rates as history grows), errors, and the client processes' own CPU time.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.queues import Queue

API = "/api/v1"
_IDLE_S = 3.0
BOUNDARY = "winjobsbenchboundary7f3a"


class HttpError(Exception):
    """An unexpected answer or a broken connection."""


class Connection:
    """One keep-alive HTTP/1.1 connection sending pre-built requests."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.used = 0.0  #: when it last answered (servers close idle connections)

    def _open(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=120)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buffer = sock, b""
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def call(self, request: bytes | list[bytes]) -> tuple[int, bytes]:
        if self.sock is not None and time.monotonic() - self.used > _IDLE_S:
            self.close()  # the server may have closed it (uvicorn: after 5 s idle)
        sock = self.sock or self._open()
        try:
            if isinstance(request, list):
                for piece in request:
                    sock.sendall(piece)
            else:
                sock.sendall(request)
            return self._response(sock)
        except OSError as exc:
            self.close()
            raise HttpError(f"{type(exc).__name__}: {exc}") from None

    def _response(self, sock: socket.socket) -> tuple[int, bytes]:
        buffer = self.buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            buffer += self._recv(sock)
        head = buffer[:end].lower()
        status = int(head[9:12])
        at = head.find(b"content-length:")
        length = int(head[at + 15 : head.find(b"\r\n", at + 15)]) if at >= 0 else 0
        if at < 0 and status not in (204, 304):
            raise HttpError(f"HTTP {status} without a content-length")
        start = end + 4
        while len(buffer) < start + length:
            buffer += self._recv(sock)
        self.buffer = buffer[start + length :]
        self.used = time.monotonic()
        return status, buffer[start : start + length]

    def _recv(self, sock: socket.socket) -> bytes:
        data = sock.recv(262144)
        if not data:
            self.close()
            raise HttpError("the server closed the connection")
        return data


def http_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: bench"]
    lines += [f"{key}: {value}" for key, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def json_request(path: str, headers: dict[str, str], payload: object) -> bytes:
    body = json.dumps(payload).encode()
    return http_request("POST", path, {**headers, "Content-Type": "application/json"}, body)


def multipart_parts(attempt: int, filename: str, content: bytes) -> tuple[bytes, bytes, bytes]:
    """(head, file content, tail) of a `complete` body, the text fields first as the
    worker's client sends them."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="attempt"\r\n\r\n{attempt}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="log_tail"\r\n\r\nok\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="output"; '
        f'filename="{filename}"\r\nContent-Type: application/zip\r\n\r\n'
    ).encode()
    return head, content, f"\r\n--{BOUNDARY}--\r\n".encode()


@dataclass
class Shape:
    """What the simulated workers do. `runs`: per year, the run zip's bytes (`ours`) or
    the run folder's path as the driver reaches it (`ours-shared`); index = year."""

    protocol: str
    url: str
    token: str = ""
    wait_s: float = 1.0
    runs: list[bytes] | list[str] = field(default_factory=list)
    until_empty: bool = False  #: stop a worker at its first claim without work
    pause_s: float = 0.0  #: a worker's pause after each cycle (0: back to back)
    shared_root: str | None = None  #: `ours-shared`: the root the workers register


@dataclass
class Tally:
    claim_s: list[float] = field(default_factory=list)
    claim_at: list[float] = field(default_factory=list)  #: perf_counter() at each claim's end
    report_s: list[float] = field(default_factory=list)
    #: accepted reports: (seconds since the start, job id)
    done: list[tuple[float, int | str]] = field(default_factory=list)
    empty_claims: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    cpu_s: float = 0.0
    sample_errors: list[str] = field(default_factory=list)

    @property
    def cycles(self) -> int:
        return len(self.done)

    def error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if detail and len(self.sample_errors) < 5:
            self.sample_errors.append(f"{kind}: {detail[:300]}")

    def add(self, other: Tally) -> None:
        self.claim_s += other.claim_s
        self.claim_at += other.claim_at
        self.report_s += other.report_s
        self.done += other.done
        self.empty_claims += other.empty_claims
        self.cpu_s += other.cpu_s
        self.sample_errors += other.sample_errors[: 5 - len(self.sample_errors)]
        for kind, count in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + count


class _Worker:
    """One simulated worker: its connection and its pre-built requests."""

    def __init__(self, shape: Shape, name: str) -> None:
        self.shape = shape
        self.name = name
        host, _, port = shape.url.removeprefix("http://").partition(":")
        self.conn = Connection(host, int(port))
        self.headers = {"Authorization": f"Bearer {shape.token}"} if shape.token else {}
        if shape.protocol.startswith("original"):
            self.claim_bytes = json_request("/get_task", {}, {"worker": name, "cores": 1})
        else:
            self.register()
            self.claim_bytes = json_request(
                f"{API}/workers/claim", self.headers, {"free_cores": 1, "wait_s": shape.wait_s}
            )

    def register(self) -> None:
        payload: dict[str, object] = {
            "name": self.name,
            "cores": 1,
            "os": "bench",
            "versions": ["8.8"],
        }
        if self.shape.protocol == "ours-shared":
            payload |= {"transfer": "shared", "shared_output_root": self.shape.shared_root}
        status, body = self.conn.call(
            json_request(f"{API}/workers/register", self.headers, payload)
        )
        if status != 200:
            raise HttpError(f"register: HTTP {status} {body[:300]!r}")
        self.headers["X-Winjobs-Worker"] = str(json.loads(body)["worker_id"])

    def report(self, task: dict[str, object]) -> bytes | list[bytes]:
        protocol = self.shape.protocol
        if protocol == "original":
            payload = {
                "task_id": task["id"],
                "job_id": task["job_id"],
                "workload": task["workload"],
                "output_path": "/nonexistent",
                "success": False,
            }
            return json_request("/finish_task", {}, payload)
        year = task["years"][0]  # type: ignore[index]
        task_id, attempt = task["task_id"], task["attempt"]
        if protocol == "ours-shared":
            payload = {"attempt": attempt, "run_path": self.shape.runs[year]}
            return json_request(f"{API}/tasks/{task_id}/complete-shared", self.headers, payload)
        head, content, tail = multipart_parts(int(str(attempt)), "run.zip", self.shape.runs[year])
        headers = {
            **self.headers,
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        }
        size = len(head) + len(content) + len(tail)
        request_head = http_request("POST", f"{API}/tasks/{task_id}/complete", headers)
        request_head = request_head.replace(
            b"Content-Length: 0", f"Content-Length: {size}".encode()
        )
        if len(content) > 1 << 20:  # a large body: sent as is, never copied
            return [request_head, head, content, tail]
        return request_head + head + content + tail

    def run(self, tally: Tally, t0: float, stop_at: float, stop: threading.Event) -> None:
        claims_only = self.shape.protocol.endswith("claims")
        original = self.shape.protocol.startswith("original")
        claim_s, claim_at, report_s, done = (
            tally.claim_s,
            tally.claim_at,
            tally.report_s,
            tally.done,
        )
        while not stop.is_set() and time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                status, body = self.conn.call(self.claim_bytes)
            except HttpError as exc:
                tally.error("claim: connection", str(exc))
                time.sleep(0.05)
                continue
            claimed = time.perf_counter()
            if status == 204 or (original and b'"id"' not in body):
                tally.empty_claims += 1
                if self.shape.until_empty:
                    return
                if original:
                    time.sleep(0.2)  # the original tool's idle sleep (original_load.py)
                continue
            if status != 200:
                tally.error(f"claim: HTTP {status}", body.decode(errors="replace"))
                time.sleep(0.05)
                continue
            claim_s.append(claimed - started)
            claim_at.append(claimed)
            task = json.loads(body)
            job = task["job_id"]
            if claims_only:
                done.append((claimed - t0, job))
                if self.shape.pause_s:
                    time.sleep(self.shape.pause_s)
                continue
            request = self.report(task)
            sent = time.perf_counter()
            try:
                status, body = self.conn.call(request)
            except HttpError as exc:
                tally.error("report: connection", str(exc))
                continue
            finished = time.perf_counter()
            if status != 200:
                tally.error(f"report: HTTP {status}", body.decode(errors="replace"))
                continue
            report_s.append(finished - sent)
            done.append((finished - t0, job))


def _client_process(
    shape: Shape,
    names: list[str],
    seconds: float,
    ready: Queue[str | None],
    start: Queue[float],
    results: Queue[Tally | str],
) -> None:
    """One client process: registers its simulated workers, says it is ready, waits for
    the common start time, runs a thread per worker, sends back its tally."""
    try:
        workers = [_Worker(shape, name) for name in names]
    except Exception as exc:
        ready.put(f"{type(exc).__name__}: {exc}")
        return
    ready.put(None)
    start_at = start.get()
    tally = Tally()
    stop = threading.Event()
    parts = [Tally() for _ in workers]
    time.sleep(max(0.0, start_at - time.time()))
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    stop_at = t0 + seconds
    threads = [
        threading.Thread(target=w.run, args=(part, t0, stop_at, stop), daemon=True)
        for w, part in zip(workers, parts, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.cpu_s = time.process_time() - cpu0
    for part in parts:
        tally.add(part)
    for worker in workers:
        worker.conn.close()
    results.put(tally)


def run_load(
    shape: Shape,
    workers: int,
    seconds: float,
    on_start: Callable[[float], None] | None = None,
    processes: int | None = None,
    prefix: str = "sim",
) -> Tally:
    """`workers` simulated workers for `seconds`, or until work runs out with
    `shape.until_empty`; returns their merged tally. They start together once every
    client process has registered its workers; `on_start` gets that time (wall clock)
    first, to start measuring then."""
    processes = processes or max(1, min(4, (workers + 24) // 25))
    names = [f"{prefix}-{os.getpid()}-{i:03d}" for i in range(workers)]
    groups = [names[i::processes] for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    ready: Queue[str | None] = context.Queue()
    start: Queue[float] = context.Queue()
    results: Queue[Tally | str] = context.Queue()
    clients = [
        context.Process(target=_client_process, args=(shape, group, seconds, ready, start, results))
        for group in groups
    ]
    for client in clients:
        client.start()
    try:
        for _ in clients:
            problem = ready.get(timeout=300)
            if problem is not None:
                raise SystemExit(f"a client process could not start: {problem}")
        start_at = time.time() + 0.3
        if on_start is not None:
            on_start(start_at)
        for _ in clients:
            start.put(start_at)
        tally = Tally()
        for _ in clients:
            part = results.get(timeout=seconds + 3600)
            assert isinstance(part, Tally)
            tally.add(part)
        return tally
    finally:
        for client in clients:
            client.join(timeout=30)
            if client.is_alive():
                client.kill()

"""Throughput and claim latency of the real driver under 50 simulated workers.

    uv run python benchmarks/bench_driver.py [--workers 50] [--seconds 10]
                                             [--backend sqlite|postgresql|both]

The driver runs as a separate process (`winjobs driver`, uvicorn on loopback). Each
simulated worker is a thread with its own `DriverClient` (the worker's real client),
registered with 1 core; the threads are spread over a few client processes (real
workers are separate processes). Each does, as fast as it can:

- phase `cycles`: claim -> heartbeat -> complete. Jobs are a tiny real study (1 area,
  synthesis and year-by-year off) and each task is one MC year; the completion uploads
  that year's run folder, produced beforehand by the stand-in solver, which the driver
  unpacks and verifies like any output; finished jobs are assembled meanwhile.
- phase `claims`: claim only, from many queued years (each claim cuts and leases a new
  task): the scheduling hot path without the upload and the verification.

Prints per phase: cycles/s, claims/s, p50/p99 claim latency as the workers saw it (round
trip), and p50 of the other calls, for SQLite and PostgreSQL (when a server can be
started from the PostgreSQL binaries, as in the tests). Target: >= 500 claims/s with p99
< 100 ms on SQLite on a 2-core machine. The client threads share the machine with the
driver, so figures are pessimistic; on a shared machine they are also noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks, tests

from benchmarks.contenders import stop_driver, wait_healthy, write_study
from winjobs.antares.archive import pack_folder, pack_study
from winjobs.antares.output import find_run_folders
from winjobs.antares.playlist import write_task_playlist
from winjobs.cli.demo import free_port
from winjobs.client import ClientError, DriverClient
from winjobs.standin.cli import run_solver
from winjobs.wire import (
    JOBS_LIMIT_MAX,
    ClaimRequest,
    Heartbeat,
    JobSubmitFields,
    WorkerRegistration,
)

TARGET_CLAIMS_PER_S = 500
TARGET_P99_S = 0.100
TOKENS = [
    {"name": "bench", "role": "user", "token": "bench-user"},
    {"name": "pool", "role": "worker", "token": "bench-worker"},
]


def year_runs(study: Path, years: int, workdir: Path) -> dict[int, Path]:
    """One zipped stand-in run per year, as a worker would upload it."""
    runs: dict[int, Path] = {}
    for year in range(years):
        task = workdir / f"task-{year}"
        shutil.copytree(study, task)
        write_task_playlist(task, [year])
        argv = ["antares-solver", "-i", str(task), "-n", f"y{year}"]
        log = io.StringIO()
        status = run_solver(argv, {"WINJOBS_STANDIN_SECONDS_PER_YEAR": "0"}, log)
        if status != 0:
            raise SystemExit(f"the stand-in solver failed:\n{log.getvalue()[-2000:]}")
        run = find_run_folders(task)[-1]
        runs[year] = pack_folder(run, workdir / f"run-{year}.zip", arcname_root=run.name).path
    return runs


@contextmanager
def driver_process(workdir: Path, database_url: str | None) -> Iterator[str]:
    port = free_port()
    config = {
        "host": "127.0.0.1",
        "port": port,
        "data_dir": str(workdir / "data"),
        "tokens": TOKENS,
        "chunk_policy": "cores",
        "max_years_per_job": 100_000,
        "log_level": "warning",
    }
    if database_url:
        config["database_url"] = database_url
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "driver.yaml"
    path.write_text(yaml.safe_dump(config))
    script = Path(sys.executable).with_name("winjobs")
    log = (workdir / "driver.log").open("wb")
    process = subprocess.Popen(
        [str(script), "driver", "--config", str(path)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    print(
        f"driver process {process.pid} ({'PostgreSQL' if database_url else 'SQLite'})", flush=True
    )
    try:
        wait_healthy(url, process, workdir / "driver.log")
        yield url
    finally:
        stop_driver(process)
        log.close()


@dataclass
class Tally:
    claim_s: list[float] = field(default_factory=list)
    heartbeat_s: list[float] = field(default_factory=list)
    complete_s: list[float] = field(default_factory=list)
    cycles: int = 0
    errors: list[str] = field(default_factory=list)


def _client_process(
    url: str,
    names: list[str],
    start_at: float,
    seconds: float,
    runs: dict[int, Path] | None,
) -> Tally:
    """One client process: a thread per simulated worker, from `start_at` (wall clock)
    for `seconds`. With `runs`, full cycles; else claims only."""
    clients = []
    for name in names:
        client = DriverClient.connect(url, "bench-worker")
        client.register_worker(WorkerRegistration(name=name, cores=1, os="bench", versions=["8.8"]))
        clients.append(client)
    tally = Tally()
    lock = threading.Lock()
    time.sleep(max(0.0, start_at - time.time()))
    stop_at = time.perf_counter() + seconds

    def work(client: DriverClient) -> None:
        claims, beats, completes, cycles, errors = [], [], [], 0, []
        try:
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                task = client.claim(ClaimRequest(free_cores=1, wait_s=1))
                t1 = time.perf_counter()
                if task is None:
                    continue
                claims.append(t1 - t0)
                if runs is not None:
                    client.heartbeat(task.task_id, Heartbeat(attempt=task.attempt))
                    t2 = time.perf_counter()
                    client.complete_task_upload(
                        task.task_id, task.attempt, runs[task.years[0]], log_tail="ok"
                    )
                    beats.append(t2 - t1)
                    completes.append(time.perf_counter() - t2)
                cycles += 1
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        with lock:
            tally.claim_s += claims
            tally.heartbeat_s += beats
            tally.complete_s += completes
            tally.cycles += cycles
            tally.errors += errors

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    return tally


def simulate(
    url: str, workers: int, processes: int, seconds: float, runs: dict[int, Path] | None
) -> tuple[Tally, float]:
    """Spread `workers` simulated workers over `processes` client processes (real workers
    are separate processes: one Python process with 50 threads would add its own GIL
    queue to every measured round trip)."""
    names = [f"sim-{i:02d}" for i in range(workers)]
    groups = [names[i::processes] for i in range(processes)]
    start_at = time.time() + 3.0 + 0.05 * workers  # time for every client to register
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        futures = [
            pool.submit(_client_process, url, group, start_at, seconds, runs) for group in groups
        ]
        parts = [future.result() for future in futures]
    tally = Tally()
    for part in parts:
        tally.claim_s += part.claim_s
        tally.heartbeat_s += part.heartbeat_s
        tally.complete_s += part.complete_s
        tally.cycles += part.cycles
        tally.errors += part.errors
    if time.time() < start_at:
        raise SystemExit("the client processes could not register in time")
    return tally, seconds


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(backend: str, phase: str, tally: Tally, elapsed: float) -> tuple[float, float]:
    claims_per_s = len(tally.claim_s) / elapsed
    p50, p99 = percentile(tally.claim_s, 0.50), percentile(tally.claim_s, 0.99)
    line = (
        f"{backend:10s} {phase:7s} cycles/s {tally.cycles / elapsed:7.1f}   "
        f"claims/s {claims_per_s:7.1f}   claim p50 {p50 * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms"
    )
    if tally.heartbeat_s:
        line += (
            f"   heartbeat p50 {statistics.median(tally.heartbeat_s) * 1000:5.1f} ms"
            f"   complete p50 {statistics.median(tally.complete_s) * 1000:5.1f} ms"
        )
    print(line, flush=True)
    for error in tally.errors[:5]:
        print(f"   worker error: {error}", flush=True)
    return claims_per_s, p99


def bench_backend(
    backend: str, database_url: str | None, workdir: Path, args: argparse.Namespace
) -> tuple[float, float]:
    small = pack_study(write_study(workdir / "small", args.years), workdir / "small.zip").path
    large = write_study(workdir / "large", args.claim_years)
    large_zip = pack_study(large, workdir / "large.zip").path
    runs = year_runs(workdir / "small", args.years, workdir / "runs")
    with driver_process(workdir / backend, database_url) as url:
        with DriverClient.connect(url, "bench-user") as user:
            for _ in range(args.jobs):
                user.submit_job(small, JobSubmitFields())
        if args.phase in ("cycles", "both"):
            tally, elapsed = simulate(url, args.workers, args.processes, args.seconds, runs)
            report(backend, "cycles", tally, elapsed)
        if args.phase == "cycles":
            return float("nan"), float("nan")
        with DriverClient.connect(url, "bench-user") as user:
            for job in user.list_jobs(limit=JOBS_LIMIT_MAX).jobs:  # --jobs <= 1000
                if not job.status.is_final:
                    with contextlib.suppress(ClientError):  # it finished meanwhile
                        user.cancel_job(job.id)
            for _ in range(args.jobs):
                user.submit_job(large_zip, JobSubmitFields())
        tally, elapsed = simulate(url, args.workers, args.processes, args.seconds, None)
        return report(backend, "claims", tally, elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--processes", type=int, default=5, help="client processes")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--jobs", type=int, default=40, help="jobs queued per phase")
    parser.add_argument("--years", type=int, default=50, help="MC years of a cycle-phase job")
    parser.add_argument("--claim-years", type=int, default=500, help="years of a claim job")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--phase", choices=("cycles", "claims", "both"), default="both")
    args = parser.parse_args()
    print(
        f"bench_driver: {args.workers} simulated workers, {args.seconds:.0f} s per phase, "
        f"{os.cpu_count()} CPUs (shared machine: figures are noisy)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="winjobs-bench-") as tmp:
        workdir = Path(tmp)
        backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
        verdict = None
        for backend in backends:
            if backend == "sqlite":
                claims, p99 = bench_backend("sqlite", None, workdir / "s", args)
                verdict = claims >= TARGET_CLAIMS_PER_S and p99 < TARGET_P99_S
                continue
            from tests.postgres_server import PostgresUnavailable, running_server

            try:
                with running_server() as server:
                    bench_backend("postgresql", server.fresh_database(), workdir / "p", args)
            except PostgresUnavailable as exc:
                print(f"postgresql skipped: {exc}", flush=True)
        if verdict is not None:
            print(
                f"target (SQLite, claims phase): >= {TARGET_CLAIMS_PER_S} claims/s with p99 < "
                f"{TARGET_P99_S * 1000:.0f} ms: {'met' if verdict else 'NOT met'}"
            )


if __name__ == "__main__":
    main()

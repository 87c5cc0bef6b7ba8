"""The driver's hot path against the original tool's, side by side in one run (issue 14).

    uv run python benchmarks/bench_vs_original.py            # the full measurement
    uv run python benchmarks/bench_vs_original.py --quick    # shorter phases, about 5 min
    options: --seconds S  --repeat N  --phases claims,cycles,shared,postgresql,growth,upload
             --growth-jobs N  --original-growth-jobs N  --upload-mb M  --no-original
             --profile DIR  --profile-gil

The full measurement (issue 14's figures) is the first command, with no option, on a
quiet 2-core machine (nothing else running: the figures move with the load, which each
row prints): 20 s per measurement, ours and the original alternating twice (original,
ours, original, ours) for claims alone (50 workers), for full cycles with 10 and with 50
workers on SQLite, and for the same full cycles with ours on PostgreSQL (a real server,
started as the tests start one; skipped with the reason when none can start); shared
mode against HTTP mode; the 20-job growth; the 200 MB upload. About 25 minutes. Its last
lines are the figures and each target as met or NOT met. `--profile DIR` adds a py-spy
profile of every measurement (it slows the driver: not for the figures); with
`--profile-gil`, of the thread holding the GIL only (where the CPU goes, without the
threads' waits).

Each measurement starts a fresh driver process (ours: `winjobs driver`, SQLite unless
said; the original: `../shared/baselines/antares-winjobs-original` in its own venv, see
`contenders.py`), queues the same jobs of 1000 one-year tasks on it, and runs the same
simulated workers against it (`loadgen.py`: plain sockets, pre-built requests, in their
own processes). Ours and the original alternate, twice. A cycle is one claim plus the
report that closes the task for good: for us a claim then the upload of the smallest run
folder our strict check accepts (5 files, about 2 KB zipped), verified and kept; for the
original `get_task` then `finish_task` (as `original_load.py` defines it).

Phases:
- `claims`: 50 workers claiming only (the scheduling hot path);
- `cycles`: full cycles with 10 and with 50 workers;
- `shared`: shared mode (`complete-shared`, collect: link) against HTTP mode, 50 workers;
- `postgresql`: ours on a real PostgreSQL server (as the tests start one) against the
  original (its own storage), full cycles with 10 and with 50 workers, alternating;
- `growth`: 20 jobs x 1000 years run to the end by 50 workers: cycles/s of each job in
  turn, the driver's RSS and CPU over the 20 000 years (their assemblies included), the
  CPU per cycle of each job (the driver's process, its assembly process) beside a speed
  probe of the machine (`measure.SpeedProbe`); the
  original runs its first 6 jobs of the same shape to the end (2 with `--quick`; `--original-
  growth-jobs`), since 20 would take it about 10 minutes, and both are compared over
  those jobs (last / first);
- `upload`: one 200 MB task output uploaded while 50 workers claim, against a
  `dd ... conv=fdatasync` write of the same size on the same disk in the same run.

Per measurement it prints cycles/s, claim and report latencies (p50/p99, round trip as
the workers saw it), the driver process's CPU time per cycle and its peak RSS (psutil),
the clients' own CPU per cycle, and the 1-minute load average; then the ratios and each
target of issue 14 as met or NOT met. The original is skipped, with the reason, when
`../shared` is absent. On a shared machine the figures are noisy: CPU per cycle is the
steadiest of them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import contenders
from benchmarks.contenders import Running, RunTemplate
from benchmarks.loadgen import (
    API,
    BOUNDARY,
    Connection,
    Shape,
    Tally,
    http_request,
    json_request,
    multipart_parts,
    run_load,
)
from benchmarks.measure import (
    Monitor,
    Profiler,
    SpeedProbe,
    Usage,
    busiest_thread,
    load_average,
    percentile,
    sequential_write_mb_s,
    top_functions,
)
from winjobs.client import DriverClient

YEARS = 1000


@dataclass
class Row:
    phase: str
    contender: str
    cycles_s: float
    claim_p50: float
    claim_p99: float
    report_p50: float
    report_p99: float
    cpu_ms: float  #: driver CPU per cycle
    rss_mb: float
    client_cpu_ms: float
    load: float
    errors: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        def ms(value: float) -> str:
            return "    -" if value != value else f"{value * 1000:5.0f}"

        errors = f"  errors {self.errors}" if self.errors else ""
        return (
            f"{self.phase:14s} {self.contender:18s} {self.cycles_s:8.1f} "
            f"{ms(self.claim_p50)} {ms(self.claim_p99)}   {ms(self.report_p50)} "
            f"{ms(self.report_p99)}   {self.cpu_ms:6.2f}  {self.rss_mb:6.0f}   "
            f"{self.client_cpu_ms:6.2f}  {self.load:5.2f}{errors}"
        )


HEADER = (
    f"{'phase':14s} {'contender':18s} {'cycles/s':>8s} {'claim p50/p99 ms':>11s}  "
    f"{'report p50/p99':>13s}  {'CPU ms':>6s}  {'RSS MB':>6s}  {'client':>6s}  {'load':>5s}"
)


def row(phase: str, contender: str, tally: Tally, usage: Usage, seconds: float) -> Row:
    cycles = max(tally.cycles, 1)
    result = Row(
        phase,
        contender,
        tally.cycles / seconds,
        percentile(tally.claim_s, 0.5),
        percentile(tally.claim_s, 0.99),
        percentile(tally.report_s, 0.5),
        percentile(tally.report_s, 0.99),
        usage.cpu_s / cycles * 1000,
        usage.rss_max / 1e6,
        tally.cpu_s / cycles * 1000,
        usage.load_after,
        tally.errors,
    )
    print(result.line(), flush=True)
    if usage.threads_cpu_s and tally.cycles:
        busiest = ", ".join(f"{spent / cycles * 1000:.2f}" for spent in usage.threads_cpu_s[:4])
        print(f"    driver CPU ms per cycle by thread, busiest first: {busiest}", flush=True)
    if usage.children_cpu_s and tally.cycles:
        spent = usage.children_cpu_s / cycles * 1000
        print(f"    of the CPU ms per cycle, its assembly process: {spent:.2f}", flush=True)
    for sample in tally.sample_errors[:3]:
        print(f"    {sample}", flush=True)
    return result


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path
    study_zip_path: Path
    study_zip: bytes
    template: RunTemplate
    run_zips: list[bytes]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counter: int = 0

    def fresh_dir(self, label: str) -> Path:
        self.counter += 1
        return self.workdir / f"{self.counter:02d}-{label}"

    # ------------------------------------------------------------------ one measurement

    def measure(
        self,
        phase: str,
        contender: str,
        running: Running,
        shape: Shape,
        workers: int,
        seconds: float,
    ) -> Row:
        profile: Profiler | None = None
        if self.args.profile is not None:
            self.args.profile.mkdir(parents=True, exist_ok=True)
            name = f"{self.counter:02d}-{phase}-{contender}.txt".replace(" ", "-")
            profile = Profiler(
                running.pid, self.args.profile / name, seconds, gil=self.args.profile_gil
            )
        sampling: AbstractContextManager[object] = profile or nullcontext()
        with Monitor(running.pid) as monitor, sampling:

            def begin(start_at: float) -> None:
                monitor.begin(start_at)
                if profile is not None:
                    profile.begin(start_at)

            tally = run_load(shape, workers, seconds, on_start=begin)
        result = row(phase, contender, tally, monitor.usage, seconds)
        self.rows.append(result)
        if profile is not None:
            print_profile(profile.out)
        return result

    def ours_run(
        self,
        phase: str,
        workers: int,
        protocol: str = "ours",
        database_url: str | None = None,
        label: str = "ours",
    ) -> Row:
        """One measurement of our driver (SQLite in its data folder, or `database_url`)."""
        workdir = self.fresh_dir(label)
        shared_root = shared_out = None
        runs: list[bytes] | list[str] = self.run_zips
        if protocol == "ours-shared":
            shared_root, shared_out = workdir / "share" / "driver", workdir / "share" / "workers"
            runs = [
                str(self.template.write_year(year, shared_out / f"y{year}"))
                for year in range(YEARS)
            ]
        with contenders.ours(workdir, database_url, shared_root) as running:
            contenders.submit_ours(running.url, self.study_zip_path, self.args.jobs)
            shape = Shape(
                protocol,
                running.url,
                token=contenders.WORKER_TOKEN,
                runs=runs,
                shared_root=str(shared_out) if shared_out else None,
            )
            return self.measure(phase, label, running, shape, workers, self.args.seconds)

    def original_run(self, phase: str, workers: int, protocol: str = "original") -> Row | None:
        if self.args.no_original or contenders.original_available():
            return None
        workdir = self.fresh_dir("original")
        with contenders.original(workdir) as running:
            contenders.submit_original(running.url, self.study_zip, self.args.jobs, "bench")
            shape = Shape(protocol, running.url)
            return self.measure(phase, "original", running, shape, workers, self.args.seconds)

    def side_by_side(
        self,
        phase: str,
        workers: int,
        ours_protocol: str,
        original_protocol: str,
        database: Callable[[], str] | None = None,
        label: str = "ours",
    ) -> tuple[list[Row], list[Row]]:
        """The original then ours, `repeat` times; `database` gives ours a fresh
        database URL per measurement (default: SQLite)."""
        theirs, mine = [], []
        for _ in range(self.args.repeat):
            if (row_ := self.original_run(phase, workers, original_protocol)) is not None:
                theirs.append(row_)
            url = database() if database is not None else None
            mine.append(self.ours_run(phase, workers, ours_protocol, url, label))
        return mine, theirs


def print_profile(raw: Path) -> None:
    if not raw.is_file():
        print(f"    no profile in {raw} (py-spy failed?)", flush=True)
        return
    busiest = busiest_thread(raw)  # the event loop's, in our driver
    for thread in (None, busiest) if busiest else (None,):
        by_self, ours = top_functions(raw, thread=thread)
        where = thread or "all threads"
        print(f"    profile {raw}, {where}: % of the samples at the top of the stack:")
        for sample in by_self:
            print(f"    {sample.percent:5.1f}  {sample.frame}")
        print("    ... and our functions on the stack (callees included):")
        for sample in ours:
            print(f"    {sample.percent:5.1f}  {sample.frame}", flush=True)


def mean(rows: list[Row], attribute: str) -> float:
    values = [getattr(r, attribute) for r in rows]
    return statistics.fmean(values) if values else float("nan")


def ratio(mine: list[Row], theirs: list[Row]) -> float:
    return mean(mine, "cycles_s") / mean(theirs, "cycles_s") if theirs else float("nan")


# ---------------------------------------------------------------------- phases


def phase_claims(bench: Bench) -> dict[str, float]:
    mine, theirs = bench.side_by_side("claims", 50, "ours-claims", "original-claims")
    return {"claims ratio": ratio(mine, theirs), "claims p99": mean(mine, "claim_p99")}


def phase_cycles(bench: Bench) -> dict[str, float]:
    results: dict[str, float] = {}
    for workers in (10, 50):
        mine, theirs = bench.side_by_side(f"cycles {workers}", workers, "ours", "original")
        results |= {
            f"cycles{workers} ours": mean(mine, "cycles_s"),
            f"cycles{workers} original": mean(theirs, "cycles_s"),
            f"cycles{workers} ratio": ratio(mine, theirs),
            f"cycles{workers} claim p99": max(r.claim_p99 for r in mine),
            f"cycles{workers} report p99": max(r.report_p99 for r in mine),
            f"cycles{workers} cpu ms": mean(mine, "cpu_ms"),
        }
    return results


def phase_shared(bench: Bench) -> dict[str, float]:
    http, shared = [], []
    for _ in range(bench.args.repeat):
        http.append(bench.ours_run("shared vs http", 50, "ours", label="ours http"))
        shared.append(bench.ours_run("shared vs http", 50, "ours-shared", label="ours shared"))
    return {
        "shared cycles": mean(shared, "cycles_s"),
        "http cycles": mean(http, "cycles_s"),
        "shared / http": mean(shared, "cycles_s") / mean(http, "cycles_s"),
    }


def phase_postgresql(bench: Bench) -> dict[str, float]:
    from tests.postgres_server import PostgresUnavailable, running_server

    results: dict[str, float] = {}
    try:
        with running_server() as server:
            for workers in (10, 50):
                mine, theirs = bench.side_by_side(
                    f"pg cycles {workers}",
                    workers,
                    "ours",
                    "original",
                    database=server.fresh_database,
                    label="ours pg",
                )
                results |= {
                    f"pg{workers} cycles": mean(mine, "cycles_s"),
                    f"pg{workers} ratio": ratio(mine, theirs),
                    f"pg{workers} claim p99": max(r.claim_p99 for r in mine),
                    f"pg{workers} report p99": max(r.report_p99 for r in mine),
                }
    except PostgresUnavailable as exc:
        bench.notes.append(f"postgresql skipped: {exc}")
    return results


def _job_rates(done: list[tuple[float, int | str]]) -> list[tuple[int | str, float, float]]:
    """(job, cycles/s, end) of each job in the order they finished: its years / time
    since the previous job's last report (the first job: since the start)."""
    last: dict[int | str, float] = {}
    count: dict[int | str, int] = {}
    for at, job in done:
        last[job] = max(last.get(job, 0.0), at)
        count[job] = count.get(job, 0) + 1
    rates, previous = [], 0.0
    for job, at in sorted(last.items(), key=lambda item: item[1]):
        if count[job] >= YEARS:
            rates.append((job, count[job] / (at - previous), at))
        previous = at
    return rates


def _rss_at(usage: Usage, at: float) -> int:
    """The RSS sampled last before `at` (seconds since the start)."""
    before = [rss for when, rss in usage.rss if when <= at]
    return before[-1] if before else usage.rss_first


def _cpu_at(usage: Usage, at: float) -> tuple[float, float]:
    """CPU seconds (the process, its children) at `at`, interpolated between the two
    samples around it (a job lasts a few samples: the last sample before it would count
    up to one sample's CPU against the wrong job)."""
    samples = [(0.0, 0.0, 0.0), *usage.cpu]
    for (t0, own0, kids0), (t1, own1, kids1) in itertools.pairwise(samples):
        if t0 <= at <= t1 and t1 > t0:
            share = (at - t0) / (t1 - t0)
            return own0 + share * (own1 - own0), kids0 + share * (kids1 - kids0)
    return samples[-1][1], samples[-1][2]


def _job_windows(
    rates: list[tuple[int | str, float, float]],
) -> list[tuple[float, float, float]]:
    """(start, end, cycles) of each job's stretch: from the previous job's last report
    (the first: from the start) to its own (seconds since the load's start)."""
    windows, previous = [], 0.0
    for _, rate, end in rates:
        windows.append((previous, end, max(rate * (end - previous), 1.0)))
        previous = end
    return windows


def _job_cpu_ms(usage: Usage, rates: list[tuple[int | str, float, float]]) -> list[str]:
    """CPU ms per cycle of each job's stretch, the driver process's + its assembly
    process's: tells a driver that costs more per cycle as history grows from a machine
    that gives it less."""
    spans = []
    for start, end, cycles in _job_windows(rates):
        (own0, kids0), (own1, kids1) = _cpu_at(usage, start), _cpu_at(usage, end)
        spans.append(f"{(own1 - own0) / cycles * 1e3:.2f}+{(kids1 - kids0) / cycles * 1e3:.2f}")
    return spans


def _job_probe_ms(
    probe: SpeedProbe, start_at: float, rates: list[tuple[int | str, float, float]]
) -> list[str]:
    """`SpeedProbe`'s mean during each job (wall clock: the load's start + seconds)."""
    means = (
        probe.mean_ms(start_at + start, start_at + end) for start, end, _ in _job_windows(rates)
    )
    return ["-" if mean is None else f"{mean:.1f}" for mean in means]


def _wait_jobs_final(url: str, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    with DriverClient.connect(url, contenders.USER_TOKEN) as user:
        while True:
            jobs = user.list_jobs(limit=1000).jobs
            if all(job.status.is_final for job in jobs) or time.monotonic() > deadline:
                statuses: dict[str, int] = {}
                for job in jobs:
                    statuses[job.status.value] = statuses.get(job.status.value, 0) + 1
                return statuses
            time.sleep(0.2)


def phase_growth(bench: Bench) -> dict[str, float]:
    jobs, results = bench.args.growth_jobs, {}
    print(f"growth: {jobs} jobs x {YEARS} years, 50 workers, until every year is done", flush=True)
    with contenders.ours(bench.fresh_dir("ours-growth")) as running:
        contenders.submit_ours(running.url, bench.study_zip_path, jobs)
        shape = Shape("ours", running.url, contenders.WORKER_TOKEN, wait_s=0, runs=bench.run_zips)
        shape.until_empty = True
        with Monitor(running.pid, every=0.25) as monitor, SpeedProbe() as probe:
            tally = run_load(shape, 50, 24 * 3600, on_start=monitor.begin)
            cycles_end = time.time()
            statuses = _wait_jobs_final(running.url, 600)
            assembled_after = time.time() - cycles_end
        usage = monitor.usage
    rates = _job_rates(tally.done)
    elapsed = max((at for at, _ in tally.done), default=1.0)
    result = row("growth", "ours", tally, usage, elapsed)
    bench.rows.append(result)
    rss_at_ends = [_rss_at(usage, end) for _, _, end in rates]
    print(
        f"    per job cycles/s: {', '.join(f'{rate:.0f}' for _, rate, _ in rates)}\n"
        f"    RSS MB at each job's end: {', '.join(f'{rss / 1e6:.0f}' for rss in rss_at_ends)}\n"
        f"    CPU ms/cycle of each job, driver + assembly: {', '.join(_job_cpu_ms(usage, rates))}\n"
        f"    the machine's speed probe, CPU ms of its fixed work during each job: "
        f"{', '.join(_job_probe_ms(probe, monitor.start_at, rates))}\n"
        f"    jobs: {statuses} ({assembled_after:.1f} s after the last cycle)\n"
        f"    RSS MB: first {usage.rss_first / 1e6:.0f}, max {usage.rss_max / 1e6:.0f}, "
        f"last {usage.rss_last / 1e6:.0f}; its assembly process max "
        f"{usage.children_rss_max / 1e6:.0f}; CPU {usage.cpu_s / max(tally.cycles, 1) * 1000:.2f} "
        "ms/cycle with the assemblies (assembly process included)",
        flush=True,
    )
    if rates:
        results["growth first job"] = rates[0][1]
        results["growth last job"] = rates[-1][1]
        results["growth last / first"] = rates[-1][1] / rates[0][1]
    results |= {
        # the driver and its assembly process: the sum of their peaks (an upper bound)
        "growth rss max mb": (usage.rss_max + usage.children_rss_max) / 1e6,
        "growth cpu ms": usage.cpu_s / max(tally.cycles, 1) * 1000,
        "growth succeeded": statuses.get("succeeded", 0),
        "growth jobs": len(rates),
    }
    if not bench.args.no_original and not contenders.original_available():
        results |= _original_growth(bench, rates)
    return results


def _original_growth(bench: Bench, ours: list[tuple[int | str, float, float]]) -> dict[str, float]:
    """The original's first jobs of the growth run to the end (not a time slice: a slice
    would compare a few of its jobs with all of ours), compared with ours over as many."""
    jobs, cap = bench.args.original_growth_jobs, bench.args.original_growth_s
    print(f"    the original: {jobs} jobs x {YEARS} years, until done (at most {cap:.0f} s)")
    with contenders.original(bench.fresh_dir("original-growth")) as running:
        contenders.submit_original(running.url, bench.study_zip, jobs, "grow")
        shape = Shape("original", running.url)
        shape.until_empty = True
        with Monitor(running.pid, every=1.0) as monitor:
            tally = run_load(shape, 50, cap, on_start=monitor.begin)
    elapsed = max((at for at, _ in tally.done), default=1.0)
    bench.rows.append(row("growth", "original", tally, monitor.usage, elapsed))
    rates = _job_rates(tally.done)
    print(
        f"    the original: per job cycles/s {', '.join(f'{rate:.0f}' for _, rate, _ in rates)}",
        flush=True,
    )
    if len(rates) < 2 or len(ours) < len(rates):
        return {}
    theirs_ratio = rates[-1][1] / rates[0][1]
    ours_ratio = ours[len(rates) - 1][1] / ours[0][1]
    print(
        f"    over the first {len(rates)} jobs, last / first: ours {ours_ratio:.2f}x, "
        f"the original {theirs_ratio:.2f}x",
        flush=True,
    )
    return {
        "original growth first job": rates[0][1],
        "original growth last job": rates[-1][1],
        "original growth last / first": theirs_ratio,
        f"growth last / first over {len(rates)} jobs": ours_ratio,
    }


def _upload_request(running: Running, big: bytes) -> tuple[Connection, list[bytes]]:
    """A worker that claimed the big job's task, and its upload as pieces to send."""
    uploader = Connection(*_host_port(running.url))
    auth = {"Authorization": f"Bearer {contenders.WORKER_TOKEN}"}
    registration = {"name": "uploader", "cores": 1, "os": "bench", "versions": ["8.8"]}
    _, body = uploader.call(json_request(f"{API}/workers/register", auth, registration))
    auth["X-Winjobs-Worker"] = str(json.loads(body)["worker_id"])
    _, body = uploader.call(json_request(f"{API}/workers/claim", auth, {"free_cores": 1}))
    task = json.loads(body)
    head, content, tail = multipart_parts(task["attempt"], "run.zip", big)
    headers = {**auth, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    request = http_request("POST", f"{API}/tasks/{task['task_id']}/complete", headers)
    size = len(head) + len(content) + len(tail)
    request = request.replace(b"Content-Length: 0", f"Content-Length: {size}".encode())
    return uploader, [request, head, content, tail]


def _host_port(url: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("http://").partition(":")
    return host, int(port)


def phase_upload(bench: Bench) -> dict[str, float]:
    """One large task output uploaded 2 s into a phase of 50 workers claiming, each
    pausing 0.1 s after each claim (up to 500 claims/s offered)."""
    size = bench.args.upload_mb * 1_000_000
    big = bench.template.zip_for_year(0, ("economy/mc-ind/00001/values-hourly.bin", size))
    workdir = bench.fresh_dir("ours-upload")
    workdir.mkdir(parents=True)
    dd = [sequential_write_mb_s(workdir, len(big))]
    timing: dict[str, float] = {}
    with contenders.ours(workdir) as running:
        contenders.submit_ours(running.url, bench.study_zip_path, 1, years="0")
        contenders.submit_ours(running.url, bench.study_zip_path, bench.args.claim_jobs)
        uploader, pieces = _upload_request(running, big)

        def upload(start_at: float) -> None:
            time.sleep(max(0.0, start_at + 2.0 - time.time()))
            timing["start"] = time.perf_counter()
            status, answer = uploader.call(pieces)
            timing["end"], timing["status"] = time.perf_counter(), status
            if status != 200:
                print(f"    upload refused: HTTP {status} {answer[:300]!r}", flush=True)

        thread: threading.Thread | None = None
        # 50 workers each claiming every 0.1 s or so: a busy pool, not a saturated driver
        shape = Shape("ours-claims", running.url, contenders.WORKER_TOKEN, pause_s=0.1)
        seconds = max(bench.args.seconds, 10.0)
        with Monitor(running.pid) as monitor:

            def begin(start_at: float) -> None:
                nonlocal thread
                monitor.begin(start_at)
                thread = threading.Thread(target=upload, args=(start_at,))
                thread.start()

            tally = run_load(shape, 50, seconds, on_start=begin)
        if thread is not None:
            thread.join()
    dd.append(sequential_write_mb_s(workdir, len(big)))
    bench.rows.append(row("upload", "ours claims", tally, monitor.usage, seconds))
    took = timing["end"] - timing["start"]
    during = [
        latency
        for latency, at in zip(tally.claim_s, tally.claim_at, strict=True)
        if timing["start"] <= at <= timing["end"]
    ]
    speed, disk = len(big) / took / 1e6, statistics.fmean(dd)
    print(
        f"    upload of {len(big) / 1e6:.0f} MB: HTTP {timing['status']:.0f} in {took:.2f} s = "
        f"{speed:.0f} MB/s; dd-like write (fdatasync) {', '.join(f'{d:.0f}' for d in dd)} "
        f"MB/s; {len(during)} claims meanwhile, p99 {percentile(during, 0.99) * 1000:.0f} ms",
        flush=True,
    )
    return {
        "upload mb/s": speed,
        "dd mb/s": disk,
        "upload / dd": speed / disk,
        "upload claim p99": percentile(during, 0.99),
        "upload ok": float(timing["status"] == 200),
    }


# ---------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    what: str
    key: str
    check: Callable[[float], bool]
    shown: Callable[[float], str]


def _x(value: float) -> str:
    return f"{value:.2f}x"


def _ms(value: float) -> str:
    return f"{value * 1000:.0f} ms"


TARGETS = (
    Target("50 workers: cycles >= 8x the original", "cycles50 ratio", lambda v: v >= 8, _x),
    Target("50 workers: claim p99 < 100 ms", "cycles50 claim p99", lambda v: v < 0.1, _ms),
    Target("50 workers: report p99 < 100 ms", "cycles50 report p99", lambda v: v < 0.1, _ms),
    Target("10 workers: cycles >= 8x the original", "cycles10 ratio", lambda v: v >= 8, _x),
    Target(
        "CPU per cycle <= 2 ms (50 workers)",
        "cycles50 cpu ms",
        lambda v: v <= 2,
        lambda v: f"{v:.2f} ms",
    ),
    Target(
        "CPU per cycle <= 2 ms (growth, assemblies included)",
        "growth cpu ms",
        lambda v: v <= 2,
        lambda v: f"{v:.2f} ms",
    ),
    Target(
        "RSS < 150 MB over the growth (driver + assembly process peaks)",
        "growth rss max mb",
        lambda v: v < 150,
        lambda v: f"{v:.0f} MB",
    ),
    Target("last job within 10 % of the first", "growth last / first", lambda v: v >= 0.9, _x),
    Target("PostgreSQL, 50 workers: >= 5x the original", "pg50 ratio", lambda v: v >= 5, _x),
    Target("PostgreSQL, 10 workers: >= 5x the original", "pg10 ratio", lambda v: v >= 5, _x),
    Target("large upload (200 MB) >= 60 % of dd", "upload / dd", lambda v: v >= 0.6, _x),
    Target("claims p99 < 100 ms during the upload", "upload claim p99", lambda v: v < 0.1, _ms),
    Target("shared mode >= HTTP mode", "shared / http", lambda v: v >= 1, _x),
)


def print_targets(results: dict[str, float]) -> None:
    print("\ntargets (issue 14):", flush=True)
    for target in TARGETS:
        value = results.get(target.key)
        if value is None or value != value:
            print(f"  {target.what}: not measured")
            continue
        verdict = "met" if target.check(value) else "NOT met"
        print(f"  {target.what}: {target.shown(value)}: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short phases (about 4 min)")
    parser.add_argument("--seconds", type=float, help="length of a timed phase (20; quick 6)")
    parser.add_argument("--repeat", type=int, help="measurements per contender (2; quick 1)")
    parser.add_argument("--phases", default="claims,cycles,shared,postgresql,growth,upload")
    parser.add_argument("--jobs", type=int, default=20, help="1000-year jobs queued per run")
    parser.add_argument("--claim-jobs", type=int, default=40)
    parser.add_argument("--growth-jobs", type=int, help="jobs of the growth phase (20; quick 5)")
    parser.add_argument(
        "--original-growth-jobs", type=int, help="the original's growth jobs (6; quick 2)"
    )
    parser.add_argument(
        "--original-growth-s", type=float, default=900.0, help="at most this long (s)"
    )
    parser.add_argument("--upload-mb", type=int, help="size of the large upload (200; quick 50)")
    parser.add_argument("--no-original", action="store_true")
    parser.add_argument("--profile", type=Path, help="py-spy every measurement into this folder")
    parser.add_argument(
        "--profile-gil",
        action="store_true",
        help="profile only the thread holding the GIL (where the driver's CPU goes)",
    )
    args = parser.parse_args()
    quick = args.quick
    args.seconds = args.seconds or (6.0 if quick else 20.0)
    args.repeat = args.repeat or (1 if quick else 2)
    args.growth_jobs = args.growth_jobs or (5 if quick else 20)
    args.upload_mb = args.upload_mb or (50 if quick else 200)
    args.original_growth_jobs = args.original_growth_jobs or (2 if quick else 6)
    phases = set(args.phases.split(","))
    why = contenders.original_available()
    print(
        f"bench_vs_original: {args.seconds:.0f} s per measurement, x{args.repeat}, phases "
        f"{','.join(sorted(phases))}; load average {load_average():.2f}; "
        f"original: {'skipped: ' + why if why else 'yes' if not args.no_original else 'off'}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="winjobs-vs-") as tmp:
        workdir = Path(tmp)
        study = contenders.write_study(workdir / "study", YEARS)
        study_zip = contenders.zip_study(study)
        study_zip_path = workdir / "study.zip"
        study_zip_path.write_bytes(study_zip)
        template = RunTemplate.make(study, workdir)
        run_zips = [template.zip_for_year(year) for year in range(YEARS)]
        print(
            f"run folder uploaded per cycle: {len(run_zips[0])} bytes zipped, "
            f"{len(template.files)} files",
            flush=True,
        )
        bench = Bench(args, workdir, study_zip_path, study_zip, template, run_zips)
        print(HEADER, flush=True)
        results: dict[str, float] = {}
        if "claims" in phases:
            results |= phase_claims(bench)
        if "cycles" in phases:
            results |= phase_cycles(bench)
        if "shared" in phases:
            results |= phase_shared(bench)
        if "postgresql" in phases:
            results |= phase_postgresql(bench)
        if "growth" in phases:
            results |= phase_growth(bench)
        if "upload" in phases:
            results |= phase_upload(bench)
    for note in bench.notes:
        print(note)
    print("\nfigures:", ", ".join(f"{k} {v:.3g}" for k, v in results.items()))
    print_targets(results)
    print(f"load average at the end: {load_average():.2f}")


if __name__ == "__main__":
    main()

"""What a benchmark phase measures besides the clients' figures: the driver process's CPU
time and memory over the measured window, the machine's load, percentiles, and a
`dd`-like sequential write for the disk's speed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


@dataclass
class Usage:
    #: CPU seconds of the process and its children (the driver's assembly process)
    cpu_s: float = 0.0
    #: of which its children's
    children_cpu_s: float = 0.0
    rss_max: int = 0
    #: the largest RSS of its children together (the driver's assembly process)
    children_rss_max: int = 0
    rss_first: int = 0
    rss_last: int = 0
    load_before: float = 0.0
    load_after: float = 0.0
    #: (seconds since the start, RSS bytes), sampled
    rss: list[tuple[float, int]] = field(default_factory=list)
    #: (seconds since the start, CPU seconds so far of the process, of its children),
    #: sampled with the RSS: what each stretch of a long run cost
    cpu: list[tuple[float, float, float]] = field(default_factory=list)
    #: CPU seconds of each thread over the window, largest first (the first is the
    #: event loop's, in our driver; the writer, the collector, the pool follow)
    threads_cpu_s: list[float] = field(default_factory=list)


class Monitor:
    """Samples a process from `begin(start_at)` (wall clock) until `stop()`: CPU time
    (user + system, its threads and its child processes included: the driver merges in
    one) and RSS every `every` seconds."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.process = psutil.Process(pid)
        self.start_at = time.time()
        self.every = every
        self.usage = Usage(load_before=load_average())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def begin(self, start_at: float) -> None:
        self.start_at = start_at
        self._thread.start()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _cpu(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def _children(self) -> dict[int, float]:
        """CPU seconds of each live child (a child that ends within the window counts
        what it spent up to its last sample: samples are every `every`); their RSS
        together goes to `children_rss_max`."""
        spent, rss = {}, 0
        for child in self.process.children(recursive=True):
            try:
                times, rss = child.cpu_times(), rss + child.memory_info().rss
            except psutil.Error:
                continue
            spent[child.pid] = float(times.user + times.system)
        self.usage.children_rss_max = max(self.usage.children_rss_max, rss)
        return spent

    def _threads(self) -> dict[int, float]:
        return {t.id: t.user_time + t.system_time for t in self.process.threads()}

    def _run(self) -> None:
        time.sleep(max(0.0, self.start_at - time.time()))
        cpu0, t0, threads0 = self._cpu(), time.perf_counter(), self._threads()
        children0 = self._children()
        children = dict(children0)
        usage = self.usage
        while True:
            children.update(self._children())
            rss, now = int(self.process.memory_info().rss), time.perf_counter() - t0
            usage.rss.append((now, rss))
            children_spent = sum(spent - children0.get(pid, 0.0) for pid, spent in children.items())
            usage.cpu.append((now, self._cpu() - cpu0, children_spent))
            usage.rss_max = max(usage.rss_max, rss)
            if self._stop.wait(self.every):
                break
        children.update(self._children())
        usage.children_cpu_s = sum(
            spent - children0.get(pid, 0.0) for pid, spent in children.items()
        )
        usage.cpu_s = self._cpu() - cpu0 + usage.children_cpu_s
        threads = self._threads()
        usage.threads_cpu_s = sorted(
            (spent - threads0.get(tid, 0.0) for tid, spent in threads.items()), reverse=True
        )
        usage.rss_first, usage.rss_last = usage.rss[0][1], usage.rss[-1][1]
        usage.load_after = load_average()

    def stop(self) -> Usage:
        if not self._stop.is_set():
            self._stop.set()
            if self._thread.is_alive():
                self._thread.join()
        return self.usage


#: the probe's fixed work, timed in its own CPU time every second (`SpeedProbe`)
_PROBE = """
import time
def work():
    total = 0
    for i in range(200_000):
        total += i * i % 7
    return total
while True:
    spent = time.thread_time()
    work()
    spent = time.thread_time() - spent
    print(f"{time.time():.3f} {spent * 1000:.3f}", flush=True)
    time.sleep(1.0)
"""


class SpeedProbe:
    """What this machine gives one process's CPU, sampled beside a measurement: a fixed
    piece of pure-Python work every second, timed in the probe's own CPU time (so the
    load around it does not count, only how fast a CPU second is now). A driver whose
    CPU per cycle moves while the probe's time moves with it is seeing the machine; one
    that moves alone is not (or sees what a tight loop does not feel: caches, system
    calls). About 0.5 % of one core."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _PROBE], stdout=subprocess.PIPE, text=True
        )
        self.samples: list[tuple[float, float]] = []  #: (wall clock time, ms)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            at, spent = line.split()
            self.samples.append((float(at), float(spent)))

    def mean_ms(self, start: float, end: float) -> float | None:
        """The work's mean CPU ms over [start, end] (wall clock times)."""
        inside = [spent for at, spent in self.samples if start <= at <= end]
        return sum(inside) / len(inside) if inside else None

    def stop(self) -> None:
        self._process.kill()
        self._process.wait()
        self._thread.join(timeout=5)

    def __enter__(self) -> SpeedProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def sequential_write_mb_s(folder: Path, size: int, block: int = 1 << 20) -> float:
    """`dd if=/dev/zero of=FILE bs=1M conv=fdatasync`: MB/s written and flushed to disk."""
    path = folder / f"dd-{os.getpid()}.bin"
    data = b"\0" * block
    started = time.perf_counter()
    try:
        with path.open("wb", buffering=0) as handle:
            written = 0
            while written < size:
                written += handle.write(data)
            os.fsync(handle.fileno())
        return size / (time.perf_counter() - started) / 1e6
    finally:
        path.unlink(missing_ok=True)


class Profiler:
    """py-spy sampling a process (`py-spy record --format raw`) while a phase runs;
    `top` reads the collapsed stacks back: the functions most often on the stack."""

    def __init__(self, pid: int, out: Path, seconds: float, gil: bool = False) -> None:
        self.out = out
        self.gil = gil  #: only the thread holding the GIL (`py-spy --gil`): where CPU goes
        self.pid, self.seconds, self.start_at = pid, seconds, time.time()
        self.process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def begin(self, start_at: float) -> None:
        self.start_at = start_at
        self._thread.start()

    def __enter__(self) -> Profiler:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread.is_alive():
            self._thread.join()
        if self.process is not None:
            self.process.wait()

    def _run(self) -> None:
        time.sleep(max(0.0, self.start_at - time.time()))
        spy = Path(sys.executable).with_name("py-spy")
        command = [str(spy), "record", "--pid", str(self.pid), "--duration"]
        command += [str(int(self.seconds)), "--format", "raw", "--output", str(self.out)]
        command += ["--rate", "200", "--nonblocking", "--threads"]
        if self.gil:
            command.append("--gil")
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )


def _working_stacks(raw: Path) -> list[tuple[str, list[str], int]]:
    """py-spy's collapsed stacks (`--threads`: each starts with its thread's label), as
    (thread, frames, samples), the idle waits left out."""
    stacks = []
    for line in raw.read_text().splitlines():
        stack, _, weight = line.rpartition(" ")
        thread, *frames = stack.split(";")
        if frames and not any(idle in frames[-1] for idle in _IDLE):
            stacks.append((thread, frames, int(weight)))
    return stacks


def busiest_thread(raw: Path) -> str:
    """The thread most samples caught working (the event loop's, in our driver)."""
    counts: dict[str, int] = {}
    for thread, _, samples in _working_stacks(raw):
        counts[thread] = counts.get(thread, 0) + samples
    return max(counts, key=lambda t: counts[t]) if counts else ""


def top_functions(
    raw: Path, count: int = 20, thread: str | None = None
) -> tuple[list[Sample], list[Sample]]:
    """From py-spy's collapsed stacks (of one thread, or of all): the functions most often
    at the top of the stack (where the CPU goes), and our own functions most often on the
    stack (which of our steps costs what, callees included). Shares are % of the samples
    kept, idle waits left out."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for label, frames, samples in _working_stacks(raw):
        if thread is not None and label != thread:
            continue
        total += samples
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + samples
        own[frames[-1]] = own.get(frames[-1], 0) + samples
    total = max(total, 1)

    def ranked(counts: dict[str, int], keep: Callable[[str], bool]) -> list[Sample]:
        best = sorted((item for item in counts.items() if keep(item[0])), key=lambda i: -i[1])
        return [Sample(frame, 100 * n / total) for frame, n in best[:count]]

    ours = ranked(inclusive, lambda frame: "(winjobs/" in frame and "cli/" not in frame)
    return ranked(own, lambda frame: True), ours


@dataclass(frozen=True)
class Sample:
    frame: str
    percent: float


#: frames where a thread waits for work (not CPU the driver spends)
_IDLE = ("select (selectors.py", "wait (threading.py", "_worker (concurrent", "get (queue.py")

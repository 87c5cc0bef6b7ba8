"""Run one solver process: start it, watch it, and kill its whole tree when told to.

Everything that ends a solver lives here, built on `subprocess` and psutil only, because
Windows has neither signal-based timeouts nor process groups that `os.killpg` could hit.
The solver is started detached from the worker's console (a new session on POSIX, a new
process group without a console window on Windows) so that the operator's Ctrl-C reaches
the worker alone: the worker decides whether the task finishes or dies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import psutil

from winjobs.antares.output import strip_ansi

#: How often the watcher looks at the process, the clock and the stop request.
POLL_S = 0.1
#: How long a killed tree may take to disappear before we give up waiting on it.
KILL_WAIT_S = 5.0


class StopReason(StrEnum):
    """Why the worker ended a solver before it exited by itself."""

    TIME_LIMIT = "time limit reached"
    CANCELLED = "job cancelled"
    LEASE_LOST = "lease lost (task re-assigned)"
    SHUTDOWN = "worker shutting down"
    VACATED = "vacated: the machine's owner comes first"


class StopRequest:
    """A one-shot, thread-safe "stop, because..." shared by heartbeats, signals and the loop.

    The first reason wins: a cancel that arrives after a shutdown does not rewrite history.
    `detail` says more than the reason where there is more to say (why the owner's policy
    vacated the task).
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._reason: StopReason | None = None
        self.detail = ""

    def request(self, reason: StopReason, detail: str = "") -> None:
        with self._lock:
            if self._reason is None:
                self._reason = reason
                self.detail = detail
        self._event.set()

    @property
    def reason(self) -> StopReason | None:
        return self._reason

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)


@dataclass(frozen=True)
class RunOutcome:
    """How a solver run ended: `stopped` is None when the solver exited by itself."""

    exit_code: int | None
    stopped: StopReason | None
    seconds: float


def _detached() -> dict[str, Any]:
    """Popen options that keep the operator's Ctrl-C away from the solver."""
    if sys.platform == "win32":
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW
        return {"creationflags": flags}
    return {"start_new_session": True}


def kill_process_tree(pid: int, wait_s: float = KILL_WAIT_S) -> None:
    """Kill `pid` and every process below it, and wait until they are gone.

    The tree is listed before anything dies (children of a dead process become orphans
    nobody can find through it). On POSIX the solver leads its own session, so the rest of
    its session is killed too: it catches grandchildren orphaned earlier (double forks).
    """
    _kill_all(pid, _descendants(pid), wait_s)


def _descendants(pid: int) -> dict[int, psutil.Process]:
    """`pid` and every process below it, by pid (empty when it is gone)."""
    try:
        root = psutil.Process(pid)
        return {p.pid: p for p in (root, *root.children(recursive=True))}
    except psutil.NoSuchProcess:
        return {}


def kill_session_leftovers(leader_pid: int, wait_s: float = KILL_WAIT_S) -> None:
    """POSIX: kill what a solver that already exited (and was reaped) left in its session.

    Its pid may belong to another process by now, so only the session is looked at.
    """
    if sys.platform != "win32":
        _kill_all(leader_pid, {}, wait_s)


def _kill_all(leader_pid: int, victims: dict[int, psutil.Process], wait_s: float) -> None:
    victims.update({p.pid: p for p in _session_members(leader_pid)})
    _kill_session(leader_pid)
    for process in victims.values():
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    _wait_gone(list(victims.values()), wait_s)


def _tree(pid: int) -> list[psutil.Process]:
    """`pid`, every process below it and (POSIX) the rest of the session it leads."""
    found = _descendants(pid)
    for member in _session_members(pid):
        found.setdefault(member.pid, member)
    return list(found.values())


def suspend_process_tree(pid: int) -> list[int]:
    """Suspend the solver's whole tree at once (SIGSTOP on POSIX, NtSuspendProcess on
    Windows, both through psutil); returns the pids suspended.

    The root first, so that it starts no new child meanwhile; then the tree is listed
    again until no new process shows up (one started between the listing and the root's
    suspension)."""
    done: set[int] = set()
    for _ in range(5):
        fresh = [p for p in _tree(pid) if p.pid not in done]
        if not fresh:
            break
        for process in sorted(fresh, key=lambda p: p.pid != pid):
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                process.suspend()
            done.add(process.pid)
    return sorted(done)


def resume_process_tree(pid: int) -> list[int]:
    """Resume what `suspend_process_tree` suspended; returns the pids resumed."""
    resumed = []
    for process in _tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            process.resume()
            resumed.append(process.pid)
    return sorted(resumed)


def _session_members(leader_pid: int) -> list[psutil.Process]:
    """POSIX: the processes still in the session the solver leads (none on Windows)."""
    if sys.platform == "win32":
        return []
    members = []
    for process in psutil.process_iter():
        try:
            if process.pid != os.getpid() and os.getsid(process.pid) == leader_pid:
                members.append(process)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return members


def _kill_session(leader_pid: int) -> None:
    """POSIX: kill what is left of the process group the solver leads (nothing on Windows)."""
    if sys.platform != "win32":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(leader_pid, signal.SIGKILL)


def _wait_gone(processes: list[psutil.Process], wait_s: float) -> None:
    """Wait until every process is dead. A zombie counts as dead: it runs nothing, and
    one that is not our child is reaped by whoever adopted it (not always promptly)."""
    deadline = time.monotonic() + wait_s
    alive = processes
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _running(p)]
        if alive:
            time.sleep(0.02)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


#: where a program finds its temporary folder: TMPDIR on POSIX, TMP then TEMP on
#: Windows (GetTempPath, which the solver's std::filesystem::temp_directory_path reads)
TEMP_VARIABLES = ("TMPDIR", "TMP", "TEMP")


def solver_environment(temp_dir: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The worker's environment with a temporary folder of the solver's own.

    A study that exports its weekly problems (`include-exportmps`) has the solver write
    each of them to the temporary folder under a name of year and week only
    (`problem-1-1--optim-nb-1.mps`), copy it into the run (or its zip) and delete it.
    Two solvers on one machine with the same temporary folder (two tasks, or the PC
    owner's own Antares run beside a worker's) then overwrite and delete each other's
    files: one fails on a file that no longer exists, or copies the other's problem,
    another user's data, into its run. Seen with the real 8.8 solver (strace;
    benchmarks/fidelity.py running two at once)."""
    environment = dict(os.environ if base is None else base)
    for name in TEMP_VARIABLES:
        environment[name] = str(temp_dir)
    return environment


class SolverProcess:
    """One solver invocation, its output appended to `log_path`; `temp_dir`: its own
    temporary folder (`solver_environment`), made if missing."""

    def __init__(
        self,
        command: Sequence[str],
        log_path: Path,
        cwd: Path | None = None,
        pid_file: Path | None = None,
        temp_dir: Path | None = None,
    ) -> None:
        self.command = [str(part) for part in command]
        self.log_path = log_path
        self.cwd = cwd
        self.pid_file = pid_file
        self.temp_dir = temp_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self._lock = threading.Lock()
        self._paused_s = 0.0  #: time spent suspended, not counted against the time limit
        self._suspended_at: float | None = None
        self._vacated: str | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the solver: no shell, the worker's environment (with its own temporary
        folder, if given), output to the log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        environment = None
        if self.temp_dir is not None:
            self.temp_dir.mkdir(parents=True, exist_ok=True)
            environment = solver_environment(self.temp_dir)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                env=environment,
                **_detached(),
            )
        self._started = time.monotonic()
        if self.pid_file is not None:
            write_pid_file(self.pid_file, self._process.pid)

    def wait(self, time_limit_s: float | None, stop: StopRequest) -> RunOutcome:
        """Wait for the solver to exit, the time limit or a stop request, whichever first.

        On the limit or a request the whole process tree is killed before returning.
        """
        process = self._require_started()
        deadline = self._started + time_limit_s if time_limit_s else None
        reason: StopReason | None = None
        while True:
            try:
                process.wait(timeout=POLL_S)
                break
            except subprocess.TimeoutExpired:
                pass
            if stop.is_set():
                reason = stop.reason or StopReason.SHUTDOWN
            elif self._vacated is not None:
                reason = StopReason.VACATED
            elif deadline is not None and time.monotonic() - self.suspended_seconds() >= deadline:
                reason = StopReason.TIME_LIMIT
            if reason is not None:
                kill_process_tree(process.pid)
                process.wait()
                break
        if reason is None:
            kill_session_leftovers(process.pid)
        return RunOutcome(
            exit_code=process.returncode,
            stopped=reason,
            seconds=time.monotonic() - self._started,
        )

    def suspend(self) -> list[int]:
        """Suspend the solver's whole tree (the owner came back); the pids suspended."""
        with self._lock:
            process = self._process
            if process is None or process.returncode is not None or self._suspended_at is not None:
                return []
            self._suspended_at = time.monotonic()
            return suspend_process_tree(process.pid)

    def resume(self) -> list[int]:
        """Resume a suspended tree; the time it spent suspended is not counted against
        the task's time limit."""
        with self._lock:
            process, since = self._process, self._suspended_at
            if process is None or since is None:
                return []
            self._paused_s += time.monotonic() - since
            self._suspended_at = None
            return resume_process_tree(process.pid)

    def vacate(self, detail: str) -> None:
        """Have `wait` kill the tree and end with StopReason.VACATED: the owner's policy
        needs the machine back. Ignored once the solver has ended by itself, so a run
        that finished a moment before keeps its result (a stop request would also cut
        its upload short)."""
        self._vacated = detail

    @property
    def vacate_detail(self) -> str:
        return self._vacated or ""

    @property
    def suspended(self) -> bool:
        return self._suspended_at is not None

    def suspended_seconds(self) -> float:
        """Time spent suspended so far, including a suspension still going on."""
        since = self._suspended_at
        return self._paused_s + (time.monotonic() - since if since is not None else 0.0)

    def kill(self) -> None:
        """Kill the solver's tree now (safe to call when it already ended)."""
        process = self._process
        if process is None:
            return
        if process.returncode is None:  # not reaped: the pid is still this solver's
            kill_process_tree(process.pid)
            process.wait()
        else:
            kill_session_leftovers(process.pid)

    def _require_started(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError("the solver was not started")
        return self._process


def write_pid_file(path: Path, pid: int) -> None:
    """Record a solver so that a later run of the worker can end it if this one dies.

    The creation time tells the solver apart from an unrelated process that got its pid.
    """
    try:
        created = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return
    path.write_text(f"{pid} {created!r}\n", encoding="ascii")


def kill_recorded_solver(path: Path) -> bool:
    """Kill the solver tree recorded in `path` if it still runs (the worker that started
    it was killed and could not). True when something was killed."""
    try:
        pid_text, created_text = path.read_text(encoding="ascii").split()
        pid, created = int(pid_text), float(created_text)
    except (OSError, ValueError):
        return False
    try:
        same = abs(psutil.Process(pid).create_time() - created) < 0.01
    except psutil.NoSuchProcess:
        same = False
    if same:
        kill_process_tree(pid)
    else:
        kill_session_leftovers(pid)
    return same


def kill_solvers_working_in(folders: Collection[Path]) -> list[Path]:
    """Kill the process trees whose working folder is one of `folders` (or inside one),
    and return those folders: the solver of a worker killed between starting it and
    recording its pid, which `kill_recorded_solver` cannot know. Solvers run in their
    task's folder; processes whose folder cannot be read (another user's) are passed."""
    roots = {folder.resolve(): folder for folder in folders}
    if not roots:
        return []
    found: dict[Path, list[int]] = {}
    for process in psutil.process_iter(["cwd"]):
        cwd = process.info.get("cwd")
        if not cwd or process.pid == os.getpid():
            continue
        where = Path(cwd)
        for root, folder in roots.items():
            if where.is_relative_to(root):  # the folder itself or below it
                found.setdefault(folder, []).append(process.pid)
    for pids in found.values():
        for pid in pids:
            kill_process_tree(pid)
    return list(found)


def read_tail(path: Path, lines: int, max_bytes: int = 256 * 1024) -> str:
    """The last `lines` lines of a solver log (decoded leniently, without the colour codes
    the real solver writes even into a file), "" when it is missing."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except FileNotFoundError:
        return ""
    text = strip_ansi(data.decode("utf-8", errors="replace"))
    return "\n".join(text.splitlines()[-lines:])

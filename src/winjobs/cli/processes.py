"""Child processes the demo starts (a driver, workers): started detached from the terminal's
Ctrl-C, logged to files, and always stopped, politely first, by force if they linger.

Children get their own process group (POSIX session / Windows `CREATE_NEW_PROCESS_GROUP`)
so that Ctrl-C reaches only the demo, which then stops them in order: workers first (they
release their tasks), the driver last. A child that does not stop within the grace delay
is killed with its whole process tree (psutil), which also takes a solver a worker left
behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import psutil

from winjobs.errors import WinjobsError


class ChildFailed(WinjobsError):
    """A child process the demo needs has stopped or never became ready."""


def winjobs_command(*args: str) -> list[str]:
    """The argument list that runs `winjobs ARGS...` with this very Python and package."""
    return [sys.executable, "-m", "winjobs", *args]


def _detached() -> dict[str, Any]:
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


class Child:
    """One process, its output going to `log_path`."""

    def __init__(
        self, name: str, argv: Sequence[str], log_path: Path, group: str | None = None
    ) -> None:
        self.name = name
        #: children of one group are stopped together (e.g. all workers, then the driver)
        self.group = group or name
        self.argv = list(argv)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._descendants: list[psutil.Process] = []

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, env: Mapping[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            **_detached(),
        )

    def exit_code(self) -> int | None:
        """None while it runs."""
        return self._process.poll() if self._process is not None else None

    def check_alive(self) -> None:
        code = self.exit_code()
        if code is not None:
            raise ChildFailed(
                f"the {self.name} stopped (exit status {code}); its log {self.log_path} "
                f"ends with: {self.log_tail()}"
            )

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
        return " | ".join(tail) or "(empty log)"

    def ask_to_stop(self) -> None:
        """The polite request: SIGTERM on POSIX, CTRL_BREAK on Windows.

        What it started is noted first: a descendant left running once it has exited
        (a solver in its own session, say) is killed by `wait_or_kill`.
        """
        process = self._process
        if process is None or process.poll() is not None:
            return
        self._descendants = _descendants(process.pid)
        try:
            if sys.platform == "win32":
                process.send_signal(signal.CTRL_BREAK_EVENT)
            else:
                process.send_signal(signal.SIGTERM)
        except OSError:
            pass  # it is already gone

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            kill_tree(self._process.pid)
        self.wait_or_kill(10.0)

    def wait_or_kill(self, grace: float) -> None:
        process = self._process
        if process is None:
            return
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            kill_tree(process.pid)
            process.wait(timeout=10)
        finally:
            _kill_all(self._descendants)
            self._descendants = []
            if self._log is not None:
                self._log.close()
                self._log = None


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return []


def _kill_all(processes: list[psutil.Process]) -> None:
    for process in processes:
        with suppress(psutil.NoSuchProcess):
            process.kill()  # psutil refuses if the pid was reused by another process
    psutil.wait_procs(processes, timeout=5)


def kill_tree(pid: int) -> None:
    """Kill a process and everything it started (children first)."""
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    _kill_all([*_descendants(pid), root])


class Children(AbstractContextManager["Children"]):
    """Processes stopped in reverse start order when the block ends, however it ends."""

    def __init__(self, grace: float = 15.0) -> None:
        self.grace = grace
        self._children: list[Child] = []

    def start(self, child: Child, env: Mapping[str, str] | None = None) -> Child:
        child.start(os.environ if env is None else env)
        self._children.append(child)
        return child

    def check_alive(self) -> None:
        for child in self._children:
            child.check_alive()

    def stop(self, children: Sequence[Child]) -> None:
        """Ask all of `children` to stop at once, then wait for (or kill) each."""
        for child in children:
            child.ask_to_stop()
        for child in children:
            child.wait_or_kill(self.grace)
            if child in self._children:
                self._children.remove(child)

    def stop_all(self) -> None:
        """Stop group by group, the last started first (workers before their driver, so
        that they leave cleanly); a Ctrl-C meanwhile turns the polite stops into kills."""
        try:
            while self._children:
                group = self._children[-1].group
                self.stop([c for c in reversed(self._children) if c.group == group])
        except KeyboardInterrupt:
            for child in self._children:
                child.kill()
            self._children.clear()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()

"""The owner comes first, carried out: a thread looks at the facts every `owner_check_s`,
asks `policy.decide`, and acts on the task the worker holds (suspend its solver's whole
tree, resume it, or vacate it: kill it and hand the task back, not counted as a failure).

It also keeps what the worker tells the driver (its `PolicyReport`, on registration,
claims and heartbeats) and lets the main loop wait until the worker may take work. Each
change of state is logged once, with its reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from winjobs.errors import ConfigError
from winjobs.wire import PolicyReport, PolicyState
from winjobs.worker.policy import Action, Held, Policy, Verdict, decide
from winjobs.worker.probes import OtherLoad, Probes, available_memory, make_idle_source
from winjobs.worker.runner import SolverProcess, StopReason, StopRequest
from winjobs.worker.settings import WorkerSettings

log = logging.getLogger(__name__)

#: How often a waiting main thread wakes up (signal handlers run between two waits).
SLICE_S = 0.1


@dataclass
class _Task:
    """The attempt the worker holds, from its claim until its solver ended."""

    task_id: int
    stop: StopRequest
    held: Held
    nudge: Callable[[], None]  #: send a heartbeat now (the driver sees the change at once)
    process: SolverProcess | None = None
    pids: list[int] = field(default_factory=list)  #: what the suspension stopped
    vacating: bool = False


class OwnerWatch:
    """Applies one worker's owner policy; `start()` runs it in a thread of its own."""

    def __init__(self, policy: Policy, probes: Probes, check_s: float = 2.0) -> None:
        self.policy = policy
        self.probes = probes
        self.check_s = check_s
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._task: _Task | None = None
        self._verdict: Verdict | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ the thread

    def start(self) -> None:
        self.step()  # a verdict before anyone asks for one
        self._done.clear()
        self._thread = threading.Thread(target=self._loop, name="owner-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self._thread = None

    def _loop(self) -> None:
        failing = False
        while not self._done.wait(self.check_s):
            try:
                self.step()
            except Exception:  # a probe that fails must not end the owner's protection
                if not failing:  # once, not every check_s
                    log.exception("looking at the owner's activity failed; trying again")
                failing = True
            else:
                if failing:
                    log.info("looking at the owner's activity works again")
                failing = False

    def step(self) -> Verdict:
        """Look at the facts once and act on them (the thread's loop; tests call it)."""
        with self._lock:
            process = self._task.process if self._task is not None else None
        facts = self.probes.facts(process.pid if process is not None else None)
        with self._lock:
            task = self._task
            verdict = decide(self.policy, facts, task.held if task is not None else None)
            if task is not None:
                self._act(task, verdict, facts.now)
            self._record(verdict)
            return verdict

    def _act(self, task: _Task, verdict: Verdict, now: datetime) -> None:
        if verdict.action is Action.SUSPEND:
            task.held = Held(task.held.since, suspended_since=now)
            self._suspend(task, verdict.reason)
        elif verdict.action is Action.RESUME:
            task.held = Held(now)
            pids = task.process.resume() if task.process is not None else []
            log.warning(
                "task %d: %s: solver resumed%s",
                task.task_id,
                verdict.reason,
                f" (pids {_pids(pids)})" if pids else "",
            )
            task.nudge()
        elif verdict.action is Action.VACATE and not task.vacating:
            log.warning(
                "task %d: %s: vacating (solver killed, task handed back, not counted as a failure)",
                task.task_id,
                verdict.reason,
            )
            task.vacating = True
            if task.process is not None:  # a solver that ended meanwhile keeps its result
                task.process.vacate(f"vacated: {verdict.reason}")
            else:  # still staging: stop that
                task.stop.request(StopReason.VACATED, f"vacated: {verdict.reason}")

    def _suspend(self, task: _Task, reason: str) -> None:
        if task.process is None:  # still staging: suspended as soon as it starts
            log.warning("task %d: %s: its solver will start suspended", task.task_id, reason)
        else:
            task.pids = task.process.suspend()
            log.warning(
                "task %d: %s: solver suspended (pids %s); vacated after %g s",
                task.task_id,
                reason,
                _pids(task.pids),
                self.policy.vacate_after_s,
            )
        task.nudge()

    def _record(self, verdict: Verdict) -> None:
        """Keep the verdict; log a change of state once, and wake whoever waits on it."""
        previous = self._verdict
        self._verdict = verdict
        if previous is None or previous.state is not verdict.state:
            log.info("policy: %s (%s)", verdict.state.label, verdict.reason)
            self._changed.notify_all()

    # ------------------------------------------------------------------ the main loop's side

    @property
    def verdict(self) -> Verdict:
        with self._lock:
            if self._verdict is None:
                return self.step()
            return self._verdict

    def report(self) -> PolicyReport:
        """The worker's state as it tells the driver."""
        verdict = self.verdict
        return PolicyReport(
            state=verdict.state, reason=verdict.reason[:500], next_work_at=verdict.next_work_at
        )

    def may_take_work(self) -> bool:
        with self._lock:
            return self._task is None and self.verdict.state.takes_work

    def wait_for_work(
        self,
        abort: threading.Event,
        on_paused: Callable[[], None],
        keepalive_s: float,
        give_up: bool = False,
        done: Callable[[], bool] = lambda: False,
    ) -> int | None:
        """Block while the policy lets the worker take no work; the cores to claim with,
        or None on `abort` or once `done()` (a batch deadline's drain time), or at once,
        with `give_up`, when it may take none.

        Meanwhile `on_paused()` tells the driver (a paused claim) at each change of state
        and every `keepalive_s`, so that the worker stays online there and shows why."""
        told: tuple[PolicyState, float] | None = None
        while not abort.is_set() and not done():
            with self._lock:
                verdict = self.verdict
                if verdict.state.takes_work and self._task is None:
                    return verdict.cores
            now = time.monotonic()
            if told is None or told[0] is not verdict.state or now - told[1] >= keepalive_s:
                on_paused()
                told = (verdict.state, now)
                if give_up:
                    return None
            with self._lock:  # in slices: on Windows a long wait holds Ctrl-C back
                if self._verdict is verdict:
                    self._changed.wait(SLICE_S)
        return None

    def hold(self, task_id: int, stop: StopRequest, nudge: Callable[[], None]) -> bool:
        """The worker got a task; False if the policy has said "no work" meanwhile (then
        the task is to be handed back at once)."""
        with self._lock:
            if not self.may_take_work():
                return False
            self._task = _Task(task_id, stop, Held(self.probes.clock()), nudge)
            return True

    def attach(self, process: SolverProcess) -> None:
        """The held task's solver started: suspended at once if the owner came back."""
        with self._lock:
            task = self._task
            if task is None:
                return
            task.process = process
            if task.held.suspended_since is not None:
                task.pids = process.suspend()
                log.warning(
                    "task %d: solver started suspended (pids %s)", task.task_id, _pids(task.pids)
                )

    def release(self) -> None:
        """The held task's solver ended (or never started): the worker holds nothing."""
        with self._lock:
            self._task = None
        self.step()

    def suspended(self, task_id: int) -> bool:
        """Whether this attempt's solver is suspended (said in its heartbeats)."""
        with self._lock:
            task = self._task
            return (
                task is not None
                and task.task_id == task_id
                and task.held.suspended_since is not None
            )


def _pids(pids: list[int]) -> str:
    return ", ".join(str(pid) for pid in pids) or "none left"


def watch_for(settings: WorkerSettings) -> OwnerWatch:
    """The owner watch a worker's settings describe, with the machine's real probes. A
    probe whose conditions the settings do not use is not even looked at."""
    policy = settings.owner_policy
    probes = Probes()
    if any(window.idle_s > 0 for window in policy.windows):
        try:
            probes.idle, how = make_idle_source(settings.idle_source, settings.idle_file)
        except OSError as exc:
            raise ConfigError(f"idle_source: {settings.idle_source.value}: {exc}") from exc
        log.info("owner's idle time: %s", how)
    if policy.max_other_cpu_percent is not None:
        probes.load = OtherLoad()
    if policy.min_free_memory is not None:
        probes.memory = available_memory
    return OwnerWatch(policy, probes, settings.owner_check_s)

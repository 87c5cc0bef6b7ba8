"""The pool manager's loop: each round, look at the driver's queue and at Slurm, then
submit and cancel pilots as `policy.plan` says, and tell the driver what Slurm shows.

Nothing that Slurm or the driver does ends the loop. A refused `sbatch` (bad partition,
over quota) is logged with Slurm's own message, reported to the driver, and tried again
after a growing wait; so are pilots that end without ever registering as workers (a bad
solver path, a driver the nodes cannot reach), whose output file's last lines are
logged. A driver or a `squeue` that does not answer skips the round.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from winjobs.client import ClientError, DriverClient
from winjobs.errors import ConfigError
from winjobs.slurm import policy
from winjobs.slurm.commands import Slurm, SlurmError, SlurmJob
from winjobs.slurm.policy import Phase
from winjobs.slurm.script import write_pilot_files
from winjobs.slurm.settings import SlurmSettings
from winjobs.wire import PilotInfo, PilotReport, PoolDemand, WorkerInfo, WorkerState
from winjobs.worker.retry import Backoff

log = logging.getLogger(__name__)

#: Slurm states of a pilot waiting in the queue (cancelling it costs nothing).
QUEUED_STATES = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED"})
#: Rounds a submitted job may be missing from squeue before it is forgotten.
MISSING_ROUNDS = 3
#: Lines of a failed pilot's output file shown in the log.
OUTPUT_TAIL_LINES = 8


@dataclass
class PilotRecord:
    """What the manager knows of one of its pilots."""

    job_id: str
    order: int
    job: SlurmJob
    registered: bool = False  #: its worker was seen on the driver
    running_since: float | None = None  #: monotonic time it was first seen running
    missing: int = 0  #: rounds it was absent from squeue
    cancelled: bool = False  #: cancelled by this manager (not a failure)
    stuck: bool = False  #: cancelled for not registering in time (a failure)

    def worker_name(self, pool: str) -> str | None:
        return f"{pool}-{self.job_id}-{self.job.node}" if self.job.node else None


class PoolManager:
    """One pool of pilots on one Slurm cluster, for one driver."""

    def __init__(
        self,
        settings: SlurmSettings,
        slurm: Slurm,
        client: DriverClient,
        monotonic: Callable[[], float] = time.monotonic,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.slurm = slurm
        self.client = client
        self.monotonic = monotonic
        self.backoff = backoff or Backoff(settings.retry_initial_s, settings.retry_max_s)
        self.script: Path | None = None
        self.pilots: dict[str, PilotRecord] = {}
        self.problem: str | None = None  #: the last problem met, shown on the driver
        self.failures = 0  #: sbatch refusals and failed pilot starts in a row
        self.hold_until = 0.0  #: no submission before this monotonic time
        self._order = 0
        self._last_plan: tuple[int, int, int] | None = None
        self.host = socket.gethostname()

    # ------------------------------------------------------------------ start and stop

    def prepare(self) -> None:
        """Write the pilot files, check the token with the driver and ask Slurm whether
        it would take the pilot job.

        A refusal (a token the driver does not take; an unknown partition, account or
        QOS, a time limit above the partition's) stops the manager before it starts:
        ConfigError with the driver's or Slurm's message. A driver or a controller that
        cannot be reached now is only logged: the loop retries."""
        self.script, config = write_pilot_files(self.settings)
        log.info("pilot script %s, worker config %s (readable by you only)", self.script, config)
        for version, path in sorted(self.settings.worker.get("solvers", {}).items()):
            if not Path(str(path)).exists():
                log.warning(
                    "solver %s: %s is not on this machine (fine if the nodes see it there)",
                    version,
                    path,
                )
        try:
            self.client.pool_demand()
        except ClientError as exc:
            if not exc.is_transient:  # a wrong token or URL: no round would ever work
                raise ConfigError(f"the driver refuses the pool manager: {exc}") from exc
            log.warning("the driver cannot be reached now (%s): trying every round", exc)
        try:
            answer = self.slurm.test_submit(self.script)
        except SlurmError as exc:
            if exc.transient:
                log.warning("Slurm cannot check the pilot job now: %s", exc)
                return
            raise ConfigError(
                f"Slurm refuses the pilot job ({exc}); fix the pool settings (partition, "
                f"account, qos, time_limit, cores, memory, sbatch_options): {self.script}"
            ) from exc
        log.info("Slurm would run a pilot: %s", answer)

    def run(self, stop: threading.Event) -> None:
        """Rounds every `poll_interval_s` until `stop` is set; then `close()`."""
        log.info(
            "pool %r: up to %d pilot(s) of %d core(s), %s each, for the driver at %s",
            self.settings.pool,
            self.settings.max_pilots,
            self.settings.cores,
            self.settings.time_limit,
            self.settings.driver_url,
        )
        try:
            while not stop.is_set():
                try:
                    self.round()
                except Exception:  # a bug must not leave the pool unmanaged
                    log.exception("the round failed; trying again next round")
                stop.wait(self.settings.poll_interval_s)
        finally:
            self.close()

    def close(self) -> None:
        """Cancel the pilots still pending (running ones end by themselves) and say so."""
        pending = [r.job_id for r in self._live() if r.job.state in QUEUED_STATES]
        if pending:
            self._cancel(pending, "the pool manager stops")
        self.problem = "the pool manager stopped: running pilots end by themselves"
        self._report()
        log.info("pool manager stopped")

    # ------------------------------------------------------------------ one round

    def round(self) -> policy.Plan | None:
        """Look, decide, act, report. Returns the plan (None when a look failed)."""
        try:
            jobs = self.slurm.jobs(self.settings.job_name)
        except SlurmError as exc:
            self._problem(f"squeue failed: {exc}")
            self._report()
            return None
        try:
            demand = self.client.pool_demand()
        except ClientError as exc:
            log.warning("cannot read the driver's queue: %s", exc)
            return None
        self._update(jobs, demand.workers)
        plan = policy.plan(self._facts(demand))
        self._log_plan(plan)
        if plan.cancel:
            self._cancel(list(plan.cancel), "the queue needs them no more")
        if plan.submit:
            self._submit(plan.submit)
        self._report()
        return plan

    def _facts(self, demand: PoolDemand) -> policy.Facts:
        """The policy's facts. This pool's workers whose pilot no longer runs are left
        out: a pilot Slurm killed looks idle on the driver until it is found offline."""
        running = {
            r.worker_name(self.settings.pool) for r in self._live() if r.job.state == "RUNNING"
        }
        mine = re.compile(rf"^{re.escape(self.settings.pool)}-\d+(_\d+)?-")
        present = [w for w in demand.workers if w.name in running or not mine.match(w.name)]
        workers = {w.name: w for w in present}
        pilots = [
            policy.Pilot(r.job_id, self._phase(r, workers), max(1, r.job.cores), r.order)
            for r in self._live()
        ]
        return policy.Facts(
            jobs=demand.jobs,
            workers=present,
            pilots=pilots,
            cluster_versions=self.settings.cluster_versions,
            cores_per_pilot=self.settings.cores,
            max_pilots=self.settings.max_pilots,
        )

    def _phase(self, record: PilotRecord, workers: dict[str, WorkerInfo]) -> Phase:
        state = record.job.state
        if state in QUEUED_STATES:
            return Phase.PENDING
        if state == "CONFIGURING":
            return Phase.STARTING
        if state != "RUNNING" or record.stuck:
            return Phase.LEAVING
        worker = workers.get(record.worker_name(self.settings.pool) or "")
        if worker is None:
            return Phase.LEAVING if record.registered else Phase.STARTING
        if worker.state in (WorkerState.IDLE, WorkerState.BUSY):
            return Phase.WORKING
        return Phase.LEAVING  # draining, or gone quiet

    # ------------------------------------------------------------------ Slurm's side

    def _live(self) -> list[PilotRecord]:
        return [r for r in self.pilots.values() if not r.job.final]

    def _update(self, jobs: Sequence[SlurmJob], workers: Sequence[WorkerInfo]) -> None:
        """Take in squeue's lines and the driver's workers; log what changed."""
        seen = {job.job_id: job for job in jobs}
        names = {w.name for w in workers}
        for job_id, job in sorted(seen.items(), key=lambda item: _job_order(item[0])):
            record = self.pilots.get(job_id)
            if record is None:
                record = self._adopt(job)
            old, record.job, record.missing = record.job, job, 0
            # registered first: a pilot may register, work and end between two rounds
            if not record.registered and record.worker_name(self.settings.pool) in names:
                record.registered = True
                self.failures = 0
                log.info("pilot %s registered as worker %s", job_id,
                         record.worker_name(self.settings.pool))  # fmt: skip
            if (old.state, old.reason) != (job.state, job.reason):
                self._changed(record, job)
            if job.state == "RUNNING" and record.running_since is None:
                record.running_since = self.monotonic()
        for record in list(self.pilots.values()):
            if record.job_id not in seen:
                record.missing += 1
                if record.job.final or record.missing >= MISSING_ROUNDS:
                    del self.pilots[record.job_id]
        self._cancel_stuck()

    def _adopt(self, job: SlurmJob) -> PilotRecord:
        """A pilot of this pool the manager did not submit (a restart of the manager):
        taken as it is, its past not judged."""
        self._order += 1
        record = PilotRecord(job.job_id, self._order, job, registered=job.final)
        self.pilots[job.job_id] = record
        if not job.final:
            log.info("pilot %s found in Slurm's queue: %s", job.job_id, _describe(job))
        return record

    def _changed(self, record: PilotRecord, job: SlurmJob) -> None:
        log.info("pilot %s: %s", job.job_id, _describe(job))
        if job.final and not (record.registered or record.cancelled or record.stuck):
            self._failed_start(job.job_id, f"ended ({_describe(job)})")

    def _failed_start(self, job_id: str, what: str) -> None:
        """A pilot ended (or was cancelled) before its worker ever registered: the
        pilot itself is at fault (a bad solver path, a driver the nodes cannot reach...).
        Its output file's end is logged; no new pilot for a while."""
        delay = self._hold()
        tail = _tail(self.settings.pilots_dir / f"{job_id}.out")
        self._problem(
            f"pilot {job_id} {what} before its worker registered; no new pilot for "
            f"{delay:.0f} s. Its output ends: {tail or '(empty)'}"
        )

    def _cancel_stuck(self) -> None:
        now = self.monotonic()
        limit = self.settings.register_timeout_s
        for record in self._live():
            if (
                record.job.state == "RUNNING"
                and not record.registered
                and not record.stuck
                and record.running_since is not None
                and now - record.running_since > limit
            ):
                record.stuck = True
                self._cancel([record.job_id], "its worker did not register in time")
                self._failed_start(record.job_id, f"was cancelled after running {limit:.0f} s")

    def _cancel(self, job_ids: list[str], why: str) -> None:
        try:
            self.slurm.cancel(job_ids)
        except SlurmError as exc:
            log.warning("scancel %s failed: %s", " ".join(job_ids), exc)
            return
        for job_id in job_ids:
            if (record := self.pilots.get(job_id)) is not None:
                record.cancelled = record.cancelled or not record.stuck
                record.job = replace(record.job, state="CANCELLED")  # until squeue says
        log.info("cancelled pilot(s) %s: %s", ", ".join(job_ids), why)

    def _submit(self, count: int) -> None:
        if self.monotonic() < self.hold_until:
            log.debug("%d pilot(s) wanted, holding back after failures", count)
            return
        assert self.script is not None, "prepare() first"
        for _ in range(count):
            try:
                job_id = self.slurm.submit(self.script)
            except SlurmError as exc:
                delay = self._hold()
                self._problem(f"sbatch refused a pilot: {exc}; trying again in {delay:.0f} s")
                return
            self._order += 1
            job = SlurmJob(job_id, "PENDING", cores=self.settings.cores)
            self.pilots[job_id] = PilotRecord(job_id, self._order, job)
            log.info("submitted pilot %s", job_id)
        if self.problem is not None and self.problem.startswith("sbatch refused"):
            self.problem = None

    def _hold(self) -> float:
        delay = self.backoff.delay(self.failures)
        self.failures += 1
        self.hold_until = self.monotonic() + delay
        return delay

    def _problem(self, text: str) -> None:
        """Log a problem (once while it lasts) and show it on the driver."""
        log.log(logging.ERROR if text != self.problem else logging.DEBUG, "%s", text)
        self.problem = text

    def _log_plan(self, plan: policy.Plan) -> None:
        """The plan at info level when the queue's figures change, else at debug."""
        key = (plan.cluster_years, plan.uncovered_years, plan.coming_cores)
        level = logging.INFO if key != self._last_plan else logging.DEBUG
        self._last_plan = key
        wanted = f"; {plan.submit} more pilot(s) wanted" if plan.submit else ""
        log.log(level, "%s%s", plan.describe(), wanted)

    # ------------------------------------------------------------------ the driver's side

    def report(self) -> PilotReport:
        """The pilots still in Slurm's queue, as the driver shows them."""
        pilots = [
            PilotInfo(
                job_id=r.job_id,
                state=r.job.state,
                reason=r.job.reason,
                node=r.job.node,
                worker=r.worker_name(self.settings.pool),
                cores=r.job.cores,
                submitted_at=r.job.submitted_at,
                started_at=r.job.started_at,
                ends_at=r.job.ends_at,
            )
            for r in sorted(self._live(), key=lambda r: r.order)
        ]
        return PilotReport(
            manager=self.host,
            partition=self.settings.partition,
            max_pilots=self.settings.max_pilots,
            interval_s=self.settings.poll_interval_s,
            problem=self.problem,
            pilots=pilots,
        )

    def _report(self) -> None:
        try:
            self.client.report_pilots(self.settings.pool, self.report())
        except ClientError as exc:
            log.warning("cannot report the pilots to the driver: %s", exc)


def _job_order(job_id: str) -> tuple[int, str]:
    head = job_id.split("_", 1)[0]
    return (int(head) if head.isdigit() else 0, job_id)


def _describe(job: SlurmJob) -> str:
    where = f" on {job.node}" if job.node and job.state == "RUNNING" else ""
    why = f" ({job.reason})" if job.reason else ""
    return f"{job.state}{where}{why}"


def _tail(path: Path, lines: int = OUTPUT_TAIL_LINES) -> str:
    """The last lines of a pilot's output file, on one line ('' if unreadable)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())

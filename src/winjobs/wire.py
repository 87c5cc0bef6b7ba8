"""Wire models: the request and response types of the driver's HTTP API.

One module shared by the driver (server side), the worker and the CLI (client side), so
that a field renamed on one side is renamed on all of them and mypy sees the break. It
holds only pydantic models, enums and path constants: no HTTP, no database.

Conventions: MC years are 0-based everywhere on the wire (as in `generaldata.ini`); the
CLI shows them 1-based. Times are timezone-aware UTC datetimes. Ids are integers.

Errors: every 4xx/5xx body is an `ErrorBody` (`detail`: one line for the user). 401 no or
unknown token; 403 wrong role, not the job's owner, or no worker id header; 404 unknown
job, task, worker (a claim from an unknown worker id: register again) or archive; 409 the
state does not allow it (stale attempt, job already finished, no result yet); 413 upload
too large; 422 invalid input (a refused study lists every problem).

Multipart bodies (`POST /jobs`, `POST /tasks/{id}/complete`) send their text fields
BEFORE the file (httpx does): the driver checks them before the file arrives.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

API_PREFIX = "/api/v1"

#: Integers the driver stores in 32-bit columns (attempts, counts, cores) or 64-bit ones
#: (byte counts, ids as SQLite keeps them): larger values are refused (422), never passed
#: to the database.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
#: The longest time limit a task may have (a year): past that, "no limit" says it better.
TIME_LIMIT_MAX_S = 365 * 24 * 3600.0

#: Header a worker sends with each request of the worker protocol: its registered id.
#: Without it the driver answers 403, and so it does when the id was registered with
#: another token; re-registering under the same name with the same token keeps the id
#: (another token cannot take a registered name: 403).
WORKER_ID_HEADER = "X-Winjobs-Worker"


class JobStatus(StrEnum):
    """Life of a job (see docs/architecture.md for the state machine)."""

    QUEUED = "queued"  #: accepted, no task has started yet
    RUNNING = "running"  #: at least one task has been claimed, not all years are done
    SUCCEEDED = "succeeded"  #: every year ran and the merged output is assembled
    FAILED = "failed"  #: a task failed max_attempts times, or the output assembly failed
    CANCELLED = "cancelled"  #: cancelled by its owner or an admin

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)

    @property
    def phrase(self) -> str:
        """The state in a sentence: `job 6 has succeeded`, `job 7 is queued`."""
        return _JOB_STATUS_PHRASES[self]


_JOB_STATUS_PHRASES = {
    JobStatus.QUEUED: "is queued",
    JobStatus.RUNNING: "is running",
    JobStatus.SUCCEEDED: "has succeeded",
    JobStatus.FAILED: "has failed",
    JobStatus.CANCELLED: "was cancelled",
}


class TaskStatus(StrEnum):
    """Life of a task: one chunk of a job's years, run by one worker per attempt."""

    QUEUED = "queued"  #: waiting for a worker (new, or re-queued after a lost or failed attempt)
    RUNNING = "running"  #: leased to a worker; the lease must be renewed by heartbeats
    SUCCEEDED = "succeeded"  #: the worker reported a checked run folder
    FAILED = "failed"  #: failed max_attempts times; the job fails with it
    CANCELLED = "cancelled"  #: its job was cancelled

    @property
    def is_final(self) -> bool:
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)


class CopyStatus(StrEnum):
    """Life of a speculative copy of a slow task (docs/driver.md, "Speculative copies")."""

    RUNNING = "running"  #: runs beside the original; the first to complete wins
    WON = "won"  #: completed first: its output is the task's
    LOST = "lost"  #: the original completed first: the copy was cancelled
    PROMOTED = "promoted"  #: the original failed: the copy went on as the task's attempt
    FAILED = "failed"  #: the copy failed; the original ran on
    RELEASED = "released"  #: its worker gave it back; the original ran on
    EXPIRED = "expired"  #: its worker stopped reporting; the original ran on
    CANCELLED = "cancelled"  #: its job ended


#: what people are told of a copy in these states (the others: the state and the reason)
_COPY_TOLD = {
    CopyStatus.RUNNING: "runs beside it: the first to finish wins",
    CopyStatus.WON: "finished first: its output is the task's",
    CopyStatus.LOST: "was cancelled: the original finished first",
    CopyStatus.PROMOTED: "went on as the task's attempt: the original failed",
}


class Role(StrEnum):
    USER = "user"  #: submits jobs, sees all jobs, changes only their own
    ADMIN = "admin"  #: changes any job, sees everything
    WORKER = "worker"  #: only the worker protocol


class Transfer(StrEnum):
    """How study archives and task outputs travel between driver and workers."""

    HTTP = "http"  #: uploaded and downloaded through the driver's API
    SHARED = "shared"  #: read and written on shared folders (Windows shares, NFS...)


class WorkerState(StrEnum):
    IDLE = "idle"
    BUSY = "busy"
    DRAINING = "draining"  #: finishing its task, claims no more (Ctrl-C once)
    #: gets no new task until an admin releases it or it registers with a changed
    #: configuration (`held_reason` says why); a task it was running goes on
    HELD = "held"
    OFFLINE = "offline"  #: not seen for longer than the offline delay


class PolicyState(StrEnum):
    """Where a worker stands with its owner's policy (docs/worker.md, "The owner comes
    first"): whether it may take work now, and what it does with a running task."""

    IN_SCHEDULE = "in_schedule"  #: may take work (or runs a task normally)
    OUTSIDE_SCHEDULE = "outside_schedule"  #: no window of its schedule covers now
    OWNER_ACTIVE = "owner_active"  #: in a window, but the owner (input, load, memory) is busy
    SUSPENDED = "suspended"  #: its task's solver is suspended while the owner is active
    VACATING = "vacating"  #: killing its task's solver and handing the task back

    @property
    def label(self) -> str:
        """How people read it: `owner active`."""
        return self.value.replace("_", " ")

    @property
    def takes_work(self) -> bool:
        return self is PolicyState.IN_SCHEDULE


class FailureKind(StrEnum):
    """Whose fault a failed attempt looks like, as the worker saw it (the driver decides:
    docs/driver.md, "When attempts fail")."""

    #: the solver judged the study: it ended with a `[fatal]` line (infeasible problem,
    #: refused setting...)
    STUDY = "study"
    #: this machine: the solver crashed (signal, crash status), could not start, ran out
    #: of memory or disk, or the worker stopped reporting
    MACHINE = "machine"
    #: nothing points either way (no fatal line, an incomplete run, a time limit...)
    UNKNOWN = "unknown"


class WaitCode(StrEnum):
    """Why queued work is not running yet (`WaitReason.code`; docs/driver.md, "Why is it
    waiting?"). The wire field is a plain string: a newer driver may add codes."""

    #: no online worker has a solver that may run the study's version
    NO_SOLVER = "no_solver"
    #: workers that could run it exist, but every one of them is offline
    WORKERS_OFFLINE = "workers_offline"
    #: the job's first task pinned a solver version no online worker has any more
    PINNED_VERSION_GONE = "pinned_version_gone"
    #: the job is held by its owner or an admin
    JOB_HELD = "job_held"
    #: the workers that could run it failed it, and leave it to others
    FAILED_THERE = "failed_there"
    #: the workers that could run it are held (failing, or by an admin)
    WORKERS_HELD = "workers_held"
    #: the workers that could run it are draining (finishing their task, taking no more)
    WORKERS_DRAINING = "workers_draining"
    #: the workers that could run it are kept from work by their owner's policy (outside
    #: their schedule, owner active)
    WORKERS_AWAY = "workers_away"
    #: the worker that could run it gave it back for lack of disk
    DISK_REFUSED = "disk_refused"
    #: jobs ahead of it in the order (effective priority, fair share, then first come)
    #: get the workers first
    JOBS_AHEAD = "jobs_ahead"
    #: every worker that could run it is busy
    WORKERS_BUSY = "workers_busy"
    #: an idle worker that may run it takes it at its next claim
    STARTING = "starting"


class EtaBasis(StrEnum):
    """What a job's ETA is estimated from (`JobSummary.eta_basis`; a plain string on the
    wire, like `WaitReason.code`)."""

    #: the job's own pace: years done (finished tasks and heartbeats) per second since
    #: its first claim
    PACE = "pace"
    #: no task of it finished yet: the pace its running solvers report (years done per
    #: second of each running task, from the solvers' logs through the heartbeats)
    SOLVER_LOG = "solver_log"
    #: no year done yet: the time per batch of years measured on the study's earlier
    #: jobs (same study archive, else same study name), on the cores now running it
    HISTORY = "history"


#: how people read an ETA's basis (the CLI's `show`, the dashboard)
ETA_BASIS_WORDS = {
    EtaBasis.PACE.value: "at the job's pace so far",
    EtaBasis.SOLVER_LOG.value: "from the years its solvers reported; no task finished yet",
    EtaBasis.HISTORY.value: "from the study's earlier jobs; no year finished yet",
}


def eta_basis_words(basis: str | None) -> str:
    """The few words that say what an ETA rests on ("" when unknown or absent)."""
    return ETA_BASIS_WORDS.get(basis or "", "")


class DeliveryState(StrEnum):
    """Where one job-end notification is (docs/driver.md, "Notifications")."""

    PENDING = "pending"  #: recorded when the job ended, not tried yet
    SENT = "sent"  #: the receiver took it (HTTP 2xx, or the SMTP server accepted the mail)
    RETRYING = "retrying"  #: an attempt failed (`last_error`); the next at `next_attempt_at`
    GAVE_UP = "gave_up"  #: every attempt failed; not tried again


#: `--notify mail:ADDRESS` sends an e-mail; `--notify http(s)://...` POSTs to a webhook
MAIL_PREFIX = "mail:"
MAX_NOTIFY_TARGETS = 20
_MAIL_ADDRESS = re.compile(r"^[^@\s<>,;:\"]+@[^@\s<>,;:\"]+$")


def check_mail_address(text: str) -> str:
    """An e-mail address, stripped; ValueError if it cannot be one (no full RFC 5322:
    the mail server has the last word)."""
    address = text.strip()
    if not _MAIL_ADDRESS.match(address):
        raise ValueError(f"{text!r} is not an e-mail address (write name@example.com)")
    return address


def parse_notify_target(text: str) -> str:
    """One notification target, checked and normalised: `mail:ADDRESS` or an http(s) URL.

    Shared by the CLI (before anything is sent) and the driver (422 naming `notify`), so
    both refuse the same targets with the same words. Raises ValueError saying what to fix.
    """
    target = text.strip()
    if target.lower().startswith(MAIL_PREFIX):
        return MAIL_PREFIX + check_mail_address(target[len(MAIL_PREFIX) :])
    parts = urlsplit(target)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{text!r}: give mail:ADDRESS or a webhook URL starting with http:// or https://"
        )
    if any(c.isspace() for c in target) or len(target) > 2000:
        raise ValueError(f"{text!r}: a webhook URL has no spaces and at most 2000 characters")
    return target


def parse_notify_targets(texts: list[str]) -> list[str]:
    """Several targets (repeated `--notify`, the user config's list), duplicates dropped."""
    return list(dict.fromkeys(parse_notify_target(t) for t in texts if t.strip()))


class _Request(BaseModel):
    """A body the driver receives: unknown fields are refused (a typo is an error, 422),
    and so are infinite and NaN numbers (`inf`, `1e309`, `NaN`): 422 naming the field."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Response(BaseModel):
    """A body the driver sends: clients ignore fields they do not know yet, so a driver
    upgraded with a new field keeps serving older CLIs and workers."""

    model_config = ConfigDict(extra="ignore")


# --------------------------------------------------------------------------- errors


class ErrorBody(_Response):
    """Body of every 4xx/5xx answer: `detail` is one readable line for the user."""

    detail: str


# --------------------------------------------------------------------------- identity


class Identity(_Response):
    """Who a token belongs to (`GET /api/v1/me`)."""

    name: str
    role: Role


# --------------------------------------------------------------------------- jobs


#: `POST /jobs` is multipart: the JobSubmitFields as text fields, then this file field
#: holding the packed study (`archive.pack_study`).
SUBMIT_ARCHIVE_FIELD = "archive"


class JobSubmitFields(_Request):
    """Form fields sent next to the study archive in `POST /jobs` (multipart).

    `years` is a comma-separated list of 0-based MC years (a subset of the study's active
    years); empty means all active years.
    """

    priority: int = Field(50, ge=1, le=100)
    name: str | None = Field(None, max_length=200)
    years: str | None = None
    task_time_limit_s: float | None = Field(None, gt=0, le=TIME_LIMIT_MAX_S)
    #: whom to tell when the job ends: targets one per line, each `mail:ADDRESS` or an
    #: http(s) webhook URL (`parse_notify_target`); normalised, at most 20
    notify: str | None = None

    @field_validator("notify")
    @classmethod
    def _check_notify(cls, value: str | None) -> str | None:
        if value is None:
            return None
        targets = parse_notify_targets(value.splitlines())
        if len(targets) > MAX_NOTIFY_TARGETS:
            raise ValueError(f"at most {MAX_NOTIFY_TARGETS} targets")
        return "\n".join(targets) or None

    @property
    def notify_targets(self) -> list[str]:
        return self.notify.splitlines() if self.notify else []


class WaitReason(_Response):
    """Why a queued job or task is not running yet, computed by the driver from the
    scheduler's own rule when it is read (never stored: it changes with the pool)."""

    code: str  #: a `WaitCode` value (a string: newer drivers may add codes)
    short: str  #: a few words for a column ("no 9.3 solver", "2 jobs ahead")
    message: str  #: one sentence for people: what it waits for, and what would change it
    #: solver versions of the online workers (what the pool can run now)
    pool_versions: list[str] = []
    #: the workers that could run it, whose state is the reason (held, busy, away...)
    workers: list[str] = []
    jobs_ahead: list[int] = []  #: ids of the jobs served before it, in their order
    #: when a worker that could run it is expected to take work (the first to finish its
    #: task at its current pace, or the end of an owner's policy window); None: unknown
    free_at: datetime | None = None


class JobCreated(_Response):
    job_id: int
    warnings: list[str] = []


class SubmissionCheck(_Response):
    """What the driver would warn of a new job of this Antares version, before its study
    is packed and uploaded (`GET /submissions/check`): the same as `JobCreated.warnings`
    says of the pool after the upload (no online worker can run it), minutes earlier."""

    antares_version: str
    warnings: list[str] = []


class TaskCopyInfo(_Response):
    """A second attempt of a task run beside the original on an idle worker, because the
    original was well behind its job's pace; the first to complete wins."""

    attempt: int  #: the copy's attempt number (one above the original's)
    of_attempt: int  #: the original attempt it copies
    of_worker: str | None = None  #: the worker running the original
    worker: str  #: the worker running the copy
    status: CopyStatus
    started_at: datetime
    finished_at: datetime | None = None
    reason: str | None = None  #: why it ended

    def describe(self) -> str:
        """One line for people: what the copy is and what became of it."""
        copy = f"attempt {self.attempt} on {self.worker}, a copy of attempt {self.of_attempt}"
        if self.of_worker:
            copy += f" on {self.of_worker}"
        told = _COPY_TOLD.get(self.status)
        if told is not None:
            return f"{copy}, {told}"
        return f"{copy}, {self.status.value}" + (f": {self.reason}" if self.reason else "")


class TaskInfo(_Response):
    id: int
    job_id: int
    years: list[int]  #: 0-based MC years of this task
    status: TaskStatus
    worker: str | None = None  #: name of the worker running it (or that ran it last)
    attempts: int = 0  #: attempts started so far
    years_done: int = 0  #: progress reported by the worker
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    log_tail: str | None = None
    #: where the task's output lives (shared mode with collect=link: on that worker's share)
    output_location: str | None = None
    #: a queued task: why no worker runs it yet (None otherwise)
    waiting: WaitReason | None = None
    #: running, its solver suspended since then (the worker's owner is active)
    suspended_since: datetime | None = None
    #: its speculative copy, if it ever had one (at most one per task)
    speculative_copy: TaskCopyInfo | None = None


class JobSummary(_Response):
    id: int
    name: str
    submitter: str
    priority: int
    status: JobStatus
    study_name: str
    antares_version: str  #: "8.8", "9.2"...
    mode: str  #: "economy" | "adequacy"
    years_total: int
    years_done: int
    tasks_running: int
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    eta_seconds: float | None = None
    #: what `eta_seconds` is estimated from: an `EtaBasis` value; None without an ETA
    eta_basis: str | None = None
    error: str | None = None
    warnings: list[str] = []
    result_available: bool = False
    #: a job with work no worker has taken yet and nothing running (queued, or running
    #: with every task waiting): why (None otherwise)
    waiting: WaitReason | None = None
    #: held by its owner or an admin: keeps its place in the queue, but no task of it is
    #: claimed (running tasks finish). A flag beside `status`, which stays queued/running,
    #: so that scripts reading `status` see no new value. False once the job has ended.
    held: bool = False
    held_by: str | None = None  #: who held it
    held_reason: str | None = None
    #: the priority it competes with now: `priority` raised by aging while it waits
    #: (docs/driver.md, "Fair share and aging"); None once it has ended
    effective_priority: int | None = None


class NotificationInfo(_Response):
    """One job-end notification and how its delivery goes."""

    target: str  #: `mail:ADDRESS` or the webhook URL
    job_status: JobStatus  #: the ending it tells of
    state: DeliveryState
    attempts: int = 0
    last_error: str | None = None  #: why the last attempt failed
    next_attempt_at: datetime | None = None  #: when retrying
    created_at: datetime
    sent_at: datetime | None = None


class JobDetail(JobSummary):
    years: list[int]  #: the job's 0-based MC years
    task_time_limit_s: float | None = None
    run_folder: str | None = None  #: name of the assembled output folder, once succeeded
    tasks: list[TaskInfo] = []
    #: whom the driver tells when the job ends, and each ending told (oldest first); only
    #: its owner and admins see them (a webhook URL may hold a key): [] for others
    notify: list[str] = []
    notifications: list[NotificationInfo] = []


#: `GET /jobs` answers one page: this many jobs when `limit` is not given, at most the max.
JOBS_LIMIT_DEFAULT = 100
JOBS_LIMIT_MAX = 1000


class JobList(_Response):
    jobs: list[JobSummary]  #: one page of the matching jobs, newest first
    #: jobs matching the filters in all pages (None from a driver that did not page)
    total: int | None = None


class PriorityChange(_Request):
    priority: int = Field(ge=1, le=100)


class HoldRequest(_Request):
    """`POST /jobs/{id}/hold`: why (shown with the job); the body may be left out."""

    reason: str | None = Field(None, max_length=500)


# --------------------------------------------------------------------------- workers


class PolicyReport(_Request):
    """A worker's policy state as it sends it (registration, claims, heartbeats)."""

    state: PolicyState
    reason: str = Field("", max_length=500)  #: why, in a few words ("keyboard used 2 min ago")
    #: when it expects to take work next (start of its next window; once the owner has
    #: been idle long enough); None: now (in schedule) or unknown (after its task, when
    #: the owner leaves). Timezone-aware.
    next_work_at: AwareDatetime | None = None


class WorkerRegistration(_Request):
    name: str = Field(min_length=1, max_length=200)
    cores: int = Field(ge=1, le=INT32_MAX)
    os: str  #: platform description, e.g. "Windows-10" or "Linux-6.1"
    versions: list[str] = Field(min_length=1)  #: Antares versions it has a solver for
    free_disk_bytes: int | None = Field(None, ge=0, le=INT64_MAX)
    transfer: Transfer = Transfer.HTTP
    #: shared mode: the worker's own shared output root, as the DRIVER reaches it
    shared_output_root: str | None = None
    policy: PolicyReport | None = None  #: None: a worker without an owner's policy
    #: sha256 of what the worker runs tasks with (cores, each solver's version, path,
    #: size and modification time): a held worker that registers with another one was
    #: changed by its operator, and is released (docs/driver.md)
    config_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class WorkerRegistered(_Response):
    worker_id: int
    heartbeat_interval_s: float
    lease_seconds: float
    #: set when the worker is on hold: it gets no task until released (why, as shown)
    held_reason: str | None = None


class WorkerTask(_Response):
    """A task a worker is running."""

    task_id: int
    job_id: int


class WorkerInfo(_Response):
    """One worker (one row per worker, whatever it runs). A worker may hold several
    tasks at once: it uploads one while the next runs, or runs tasks on spare cores."""

    id: int
    name: str
    os: str
    cores: int
    versions: list[str]
    state: WorkerState
    #: every task it is running, the most recently claimed first
    tasks: list[WorkerTask] = []
    #: the most recently claimed of `tasks` (for clients older than `tasks`)
    current_task: int | None = None
    current_job: int | None = None
    last_seen: datetime
    registered_at: datetime
    #: on hold (also when offline): why, since when, by whom ("driver": automatic)
    held_reason: str | None = None
    held_at: datetime | None = None
    held_by: str | None = None
    #: attempts it failed in a row since its last success (releases not counted)
    failures_in_a_row: int = 0
    #: drained by an admin (`winjobs worker-admin drain`): why, since when, by whom; it
    #: takes no new task until it restarts or is released
    drain_reason: str | None = None
    drained_at: datetime | None = None
    drained_by: str | None = None
    #: the owner's policy as the worker last reported it (None: a worker that reports none)
    policy: PolicyState | None = None
    policy_reason: str | None = None
    next_work_at: datetime | None = None  #: see PolicyReport.next_work_at

    @property
    def next_work(self) -> str | None:
        """When it takes work next, in words, where `next_work_at` has no time to give;
        None: at `next_work_at`, or not known (offline, held, draining, or no policy
        reported)."""
        if self.state in (WorkerState.OFFLINE, WorkerState.DRAINING, WorkerState.HELD):
            return None
        if self.policy is None or self.next_work_at is not None:
            return None
        if self.policy is PolicyState.IN_SCHEDULE:
            return "after its task" if self.current_task is not None else "now"
        if self.policy in (PolicyState.OWNER_ACTIVE, PolicyState.SUSPENDED):
            return "when its owner leaves"
        return None


#: A pool's name (`winjobs slurm`'s `pool`): in URLs and in its pilots' worker names.
POOL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class PilotInfo(_Response):
    """One pilot job of a batch-system pool (docs/slurm.md), as its pool manager sees it.

    `state` and `reason` are the batch system's own words (Slurm's `PENDING` with reason
    `Priority`, `RUNNING`...), so an operator can look them up in its documentation."""

    job_id: str  #: the batch system's job id
    state: str
    reason: str | None = None  #: why it waits (or why it ended), when the system says
    node: str | None = None  #: where it runs, once it does
    worker: str | None = None  #: the worker name it registers (or registered) under
    cores: int = 0
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    ends_at: datetime | None = None  #: when its time limit ends it


class PilotReport(_Request):
    """What a pool manager sends the driver each round (`PUT /pool/pilots/{pool}`)."""

    manager: str = Field(max_length=200)  #: the host the manager runs on
    system: str = Field("slurm", max_length=50)  #: which batch system
    partition: str | None = Field(None, max_length=200)
    max_pilots: int = Field(ge=0)
    interval_s: float = Field(gt=0)  #: how often it reports: later than 3 intervals is stale
    #: the last problem it met (e.g. sbatch's own error message and the next retry)
    problem: str | None = Field(None, max_length=2000)
    pilots: list[PilotInfo] = Field(default_factory=list, max_length=10000)


class PilotPool(_Response):
    """A pool manager's last report, as the driver shows it (`GET /workers`)."""

    name: str
    manager: str
    system: str = "slurm"
    partition: str | None = None
    max_pilots: int = 0
    reported_at: datetime
    stale: bool = False  #: no report for 3 intervals: the manager may be down
    problem: str | None = None
    pilots: list[PilotInfo] = []


class WorkerList(_Response):
    workers: list[WorkerInfo]
    #: batch-system pools of pilot workers, with their pilots still pending in the queue
    pools: list[PilotPool] = []


class QueuedWork(_Response):
    """A job's years that wait for a worker: in re-queued tasks or not yet in a task."""

    job_id: int
    priority: int
    antares_version: str
    solver_version: str | None = None  #: pinned by the job's first claim
    years_waiting: int


class PoolDemand(_Response):
    """The queue as a pool manager needs it (`GET /pool/demand`): work waiting, in the
    order the scheduler serves it, and every worker (who is idle, with which solvers)."""

    jobs: list[QueuedWork]
    workers: list[WorkerInfo]


class WorkerAction(_Request):
    """An admin's hold or drain of a worker: why, in a few words (shown with its state)."""

    reason: str | None = Field(None, max_length=500)


# --------------------------------------------------------------------------- the pool


class UserShare(_Response):
    """One user's share of the pool, as fair share weighs it (`GET /status/shares`)."""

    user: str
    weight: float  #: set by the admins (`fair_share_weights`); 1 when not set
    core_hours: float  #: recent usage: core-hours, decayed with the half-life
    running_cores: int  #: cores the user's running tasks hold now
    used: float  #: fraction of all users' recent usage (0..1)
    entitled: float  #: fraction of the listed users' weights (0..1)


class Shares(_Response):
    """How the queue is ordered and each user's share (`GET /status/shares`): the
    users with recent usage and every user token, least served (per weight) first."""

    scheduling: str  #: `fair_share` or `strict`
    half_life_hours: float
    aging_points_per_hour: float
    aging_max_points: int
    users: list[UserShare]


class PoolStatus(_Response):
    """The pool at a glance (`GET /status`, `winjobs status`): read when asked."""

    at: datetime
    #: online workers by what they do (idle + busy + held + draining = online)
    workers_online: int
    workers_idle: int
    workers_busy: int
    workers_held: int
    workers_draining: int
    workers_offline: int
    cores_total: int  #: of the online workers
    cores_busy: int  #: of the workers running a task
    versions: list[str] = []  #: solver versions of the online workers
    jobs_queued: int
    jobs_running: int
    #: years of the queued and running jobs not done yet
    years_left: int
    #: years done in the last hour (running tasks' reported years counted pro rata)
    years_per_hour: float
    #: time to run `years_left` at `years_per_hour`; None when nothing ran in the hour
    drain_seconds: float | None = None


class LoadPoint(_Response):
    """The pool's load at one moment (a sample the driver records periodically)."""

    at: datetime
    workers_online: int
    workers_busy: int
    cores_total: int
    cores_busy: int


class LoadHistory(_Response):
    """`GET /status/load`: the pool's samples of the last hours, oldest first."""

    sample_s: float  #: the driver's sampling period
    points: list[LoadPoint]


# --------------------------------------------------------------------------- worker protocol


class ClaimRequest(_Request):
    free_cores: int = Field(ge=1, le=INT32_MAX)
    wait_s: float = Field(25.0, ge=0, le=60)  #: long-poll: how long to wait for work
    free_disk_bytes: int | None = Field(None, ge=0, le=INT64_MAX)
    draining: bool = False
    #: the owner's policy lets it take no work now: the driver answers at once (ending a
    #: long-poll the worker has pending), takes nothing and leaves its cores out of the pool
    paused: bool = False
    policy: PolicyReport | None = None

    @property
    def takes_work(self) -> bool:
        return not (self.draining or self.paused)


class TaskAssignment(_Response):
    """What a worker needs to run one attempt of a task.

    `attempt` is the fencing token: every later report for this task must carry it; a
    report with an older token is refused with 409 and changes nothing.
    """

    task_id: int
    job_id: int
    attempt: int
    years: list[int]  #: 0-based MC years to run
    antares_version: str  #: the study's version
    solver_version: str  #: which of the worker's declared versions to run it with
    study_sha256: str
    study_size: int
    study_name: str
    transfer: Transfer
    shared_archive_path: str | None = None  #: shared mode: archive path as the driver sees it
    #: shared mode with collect: link: the driver's merged output will link into this
    #: attempt's run folder, so the worker keeps it after the report is accepted (until
    #: `winjobs clean data` on the worker); otherwise the worker may delete it then
    keep_shared_output: bool = False
    time_limit_s: float | None = None
    solver_args: list[str] = []  #: extra solver options the job carries
    lease_seconds: float
    heartbeat_interval_s: float


class Heartbeat(_Request):
    attempt: int = Field(ge=0, le=INT32_MAX)
    years_done: int = Field(0, ge=0, le=INT32_MAX)
    #: this attempt's solver is suspended (its machine's owner is active); the lease is
    #: renewed all the same, and the driver may give the task to an idle worker once it
    #: has been suspended for `reassign_suspended_after_s` (docs/driver.md)
    suspended: bool = False
    policy: PolicyReport | None = None  #: the worker's policy state, as in claims


class HeartbeatReply(_Response):
    """`cancel`: the job was cancelled, kill the solver and drop the task."""

    cancel: bool = False
    lease_until: datetime


class FailureEvidence(_Request):
    """What the worker saw of a failed attempt; the driver compares it between workers
    ("the same error on two machines" is the study's)."""

    exit_status: int | None = None  #: the solver's exit status, when it exited
    signal: str | None = Field(None, max_length=40)  #: "SIGSEGV", "access violation"...
    #: the solver's first `[fatal]` line, the task folder's path replaced by `<task>`
    fatal_line: str | None = Field(None, max_length=2000)


#: how a worker's reason begins when it gives a task back for lack of disk: the driver
#: tells such refusals from other releases by it (the why-pending reason `disk_refused`)
LOW_DISK_REASON = "not enough free disk on the worker"


class TaskFailure(_Request):
    attempt: int = Field(ge=0, le=INT32_MAX)
    reason: str
    log_tail: str = ""
    #: True when the worker gives the task back without it being the task's fault
    #: (shutting down, not enough disk): the attempt is not counted as a failure.
    release: bool = False
    #: whose fault it looks like to the worker (the driver decides)
    kind: FailureKind = FailureKind.UNKNOWN
    evidence: FailureEvidence = Field(default_factory=FailureEvidence)


#: `POST /tasks/{id}/complete` (HTTP mode) is multipart: text fields `attempt` and
#: `log_tail`, then the file field `output`: the run folder zipped with its own name as the
#: single top folder (`archive.pack_folder(run, dest, arcname_root=run.name)`); a zip of
#: the run folder's content at its root is accepted too. The driver verifies it (a
#: finished, successful run of exactly the task's years, by the assigned solver version)
#: before the task counts as succeeded: 422 with the reason otherwise.
COMPLETE_OUTPUT_FIELD = "output"


class SharedCompletion(_Request):
    """Shared mode (`POST /tasks/{id}/complete-shared`): the run folder stays on the
    worker's share. `run_path` must lie inside the `shared_output_root` the worker
    registered (422 otherwise, or if the driver cannot read it there); the run is verified
    like an upload (422 with the reason); a stale attempt gets 409."""

    attempt: int = Field(ge=0, le=INT32_MAX)
    run_path: str  #: path of the run folder as the DRIVER reaches it (prefix map applied)
    log_tail: str = ""


class Ack(_Response):
    ok: bool = True
    detail: str = ""


# --------------------------------------------------------------------------- health


class Health(_Response):
    status: str = "ok"
    version: str
    database: str  #: "sqlite" | "postgresql"

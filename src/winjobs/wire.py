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

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

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


class JobCreated(_Response):
    job_id: int
    warnings: list[str] = []


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
    #: running, its solver suspended since then (the worker's owner is active)
    suspended_since: datetime | None = None


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
    error: str | None = None
    warnings: list[str] = []
    result_available: bool = False


class JobDetail(JobSummary):
    years: list[int]  #: the job's 0-based MC years
    task_time_limit_s: float | None = None
    run_folder: str | None = None  #: name of the assembled output folder, once succeeded
    tasks: list[TaskInfo] = []


#: `GET /jobs` answers one page: this many jobs when `limit` is not given, at most the max.
JOBS_LIMIT_DEFAULT = 100
JOBS_LIMIT_MAX = 1000


class JobList(_Response):
    jobs: list[JobSummary]  #: one page of the matching jobs, newest first
    #: jobs matching the filters in all pages (None from a driver that did not page)
    total: int | None = None


class PriorityChange(_Request):
    priority: int = Field(ge=1, le=100)


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

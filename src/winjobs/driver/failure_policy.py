"""What a failed attempt means: whose fault it is, whether it counts against the job, where
the task goes next, and when a worker that keeps failing is put on hold.

Pure functions of facts -> decisions, like `scheduler`: the store gathers the facts inside
its report transaction and applies the verdict. docs/driver.md ("When attempts fail")
tells users the same rules.

* The worker says what it saw (`FailureKind` and the evidence: exit status, signal,
  fatal line); the driver decides with what only it knows: the task's earlier failures
  on other machines and which other workers could run it.
* **The same error on two machines is the study's**: an attempt that is not a machine
  failure and whose fingerprint (exit status, signal, the solver's fatal line) equals
  that of an earlier failure of the task on ANOTHER worker fails the job at once, with
  the solver's reason. Without a fatal line there is no error to compare: such failures
  only count.
* **A machine failure never counts against the job** while another worker can run the
  task: it is queued again for the others and its years' failure count is unchanged.
  On the last worker that can run it (every other one has failed it, is held, offline,
  draining or has no compatible solver) it counts: a task must not bounce for ever, and
  a job may fail "on the only worker that can run it".
* Every other failure counts; the job fails when the task's counted failures reach
  `max_attempts`.
* **The next attempt goes elsewhere**: the worker that failed a task avoids it while
  another worker that has not failed it can run it, busy or not. Waiting for a busy
  healthy worker costs at most one of its tasks; retrying on the machine that just failed
  most likely fails again and, repeated, fails the job. When nobody else is left the
  avoidance is lifted (the sweeper checks), and further failures count.
* **Holds**: each failed attempt charged to a worker adds to its failures in a row; a
  success resets them. Not charged: releases (not failures at all), and failures the
  study was found guilty of. A worker with `hold_after` failures in a row is held once
  another worker has completed a task since its streak began ("while others succeed": when
  every worker fails, the jobs are the likelier culprit, and holding the whole pool
  would stop it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from winjobs.driver import scheduler
from winjobs.wire import FailureEvidence, FailureKind

_SPACES = re.compile(r"\s+")


def fingerprint(evidence: FailureEvidence) -> str | None:
    """What "the same error" compares: the solver's fatal line (spaces collapsed) with the
    exit status and signal. None without a fatal line: an exit status alone (1, a crash)
    says too little to blame the study for it."""
    if not evidence.fatal_line or not evidence.fatal_line.strip():
        return None
    line = _SPACES.sub(" ", evidence.fatal_line.strip())
    return f"exit={evidence.exit_status} signal={evidence.signal or '-'} fatal={line}"


@dataclass(frozen=True)
class PastFailure:
    """An earlier failed attempt of the same task."""

    worker_id: int | None  #: None: that worker was forgotten since
    kind: FailureKind
    fingerprint: str | None
    worker_name: str = ""


@dataclass(frozen=True)
class FailureFacts:
    """The failed attempt and what the driver knows around it."""

    worker_id: int
    kind: FailureKind
    fingerprint: str | None
    past: Sequence[PastFailure]  #: the task's earlier failed attempts, oldest first
    #: workers other than this one that could run the task now and have not failed it
    others_can_run: int
    failures: int  #: the task's counted failures before this one
    max_attempts: int


@dataclass(frozen=True)
class Verdict:
    counted: bool  #: adds to the task's failures (towards max_attempts)
    failures: int  #: the task's counted failures after this attempt
    fail_job: bool
    study_confirmed: bool  #: the same error happened on another worker: the study's
    avoid_worker: bool  #: the task's next attempt goes to another worker
    charge_worker: bool  #: adds to the worker's failures in a row


def judge(facts: FailureFacts) -> Verdict:
    """The verdict on one failed (not released) attempt; the rules are the module's."""
    if _same_error_elsewhere(facts):
        failures = facts.failures + 1
        return Verdict(True, failures, True, True, avoid_worker=False, charge_worker=False)
    others = facts.others_can_run > 0
    if facts.kind is FailureKind.MACHINE and others:
        return Verdict(False, facts.failures, False, False, avoid_worker=True, charge_worker=True)
    failures = facts.failures + 1
    return Verdict(
        True,
        failures,
        fail_job=failures >= facts.max_attempts,
        study_confirmed=False,
        avoid_worker=others,
        charge_worker=True,
    )


def _same_error_elsewhere(facts: FailureFacts) -> bool:
    if facts.kind is FailureKind.MACHINE or facts.fingerprint is None:
        return False
    return any(
        past.worker_id != facts.worker_id
        and past.kind is not FailureKind.MACHINE
        and past.fingerprint == facts.fingerprint
        for past in facts.past
    )


def job_failure_reason(years: str, verdict: Verdict, reason: str, workers: Sequence[str]) -> str:
    """The job's error when this attempt fails it: what the user reads first."""
    if verdict.study_confirmed:
        where = " and ".join(dict.fromkeys(workers))
        return f"years {years} failed with the same error on {where}: {reason}"
    return f"years {years} failed {verdict.failures} times; last: {reason}"


# ----------------------------------------------------------------------------- holds


def streak_reason(streak: int, reason: str, crashed: bool) -> str:
    """Why a worker with `streak` failures in a row would be held (the last one's reason)."""
    what = f"solver crashed {streak} times in a row" if crashed else f"{streak} failures in a row"
    return f"{what}: {reason}"


def should_hold(streak: int, hold_after: int, others_succeeded: bool) -> bool:
    """Hold a worker with `streak` failures in a row? `hold_after` 0 never holds."""
    return hold_after > 0 and streak >= hold_after and others_succeeded


# ----------------------------------------------------------------------------- who can run


@dataclass(frozen=True)
class CandidateWorker:
    """A worker that may claim now: online, not held, not draining (the store filters)."""

    id: int
    versions: Sequence[str]


def others_can_run(
    candidates: Iterable[CandidateWorker],
    failed_by: Iterable[int | None],
    antares_version: str,
    solver_version: str | None,
) -> int:
    """How many candidates could take the task's next attempt: a compatible solver (the
    job's pinned version), and not among the workers that failed the task already."""
    failed = set(failed_by)
    return sum(
        1
        for worker in candidates
        if worker.id not in failed
        and scheduler.solver_for(antares_version, solver_version, worker.versions) is not None
    )

"""The failure policy, rule by rule: whose fault, counted or not, where the task goes next,
when the job fails, when a worker is held."""

from __future__ import annotations

import pytest

from winjobs.driver.failure_policy import (
    CandidateWorker,
    FailureFacts,
    PastFailure,
    Verdict,
    fingerprint,
    job_failure_reason,
    judge,
    others_can_run,
    should_hold,
    streak_reason,
)
from winjobs.wire import FailureEvidence, FailureKind

STUDY, MACHINE, UNKNOWN = FailureKind.STUDY, FailureKind.MACHINE, FailureKind.UNKNOWN
INFEASIBLE = "exit=1 signal=- fatal=Year 3: the problem is infeasible"
OTHER_FATAL = "exit=1 signal=- fatal=Year 3: unknown thermal cluster"


def facts(
    kind: FailureKind,
    past: list[PastFailure] | None = None,
    others: int = 1,
    failures: int = 0,
    fingerprint: str | None = None,
    worker: int = 1,
    max_attempts: int = 3,
) -> FailureFacts:
    return FailureFacts(
        worker_id=worker,
        kind=kind,
        fingerprint=fingerprint,
        past=past or [],
        others_can_run=others,
        failures=failures,
        max_attempts=max_attempts,
    )


@pytest.mark.parametrize(
    ("case", "given", "expected"),
    [
        (
            "a crash while another worker can run it: not counted, goes elsewhere",
            facts(MACHINE, others=1),
            Verdict(False, 0, False, False, avoid_worker=True, charge_worker=True),
        ),
        (
            "a crash on the last worker that can run it: counted, may retry there",
            facts(MACHINE, others=0, failures=1),
            Verdict(True, 2, False, False, avoid_worker=False, charge_worker=True),
        ),
        (
            "crashes on the only worker reach max_attempts: the job fails",
            facts(MACHINE, others=0, failures=2),
            Verdict(True, 3, True, False, avoid_worker=False, charge_worker=True),
        ),
        (
            "a machine failure never counts while others can run it, whatever came before",
            facts(MACHINE, others=2, failures=2),
            Verdict(False, 2, False, False, avoid_worker=True, charge_worker=True),
        ),
        (
            "a first study error: counted, next attempt on another machine",
            facts(STUDY, fingerprint=INFEASIBLE),
            Verdict(True, 1, False, False, avoid_worker=True, charge_worker=True),
        ),
        (
            "the same study error on a second machine: the job fails at once",
            facts(
                STUDY, past=[PastFailure(2, STUDY, INFEASIBLE)], fingerprint=INFEASIBLE, others=3
            ),
            Verdict(True, 1, True, True, avoid_worker=False, charge_worker=False),
        ),
        (
            "an unknown failure with the same fatal line elsewhere is the study's too",
            facts(UNKNOWN, past=[PastFailure(2, STUDY, INFEASIBLE)], fingerprint=INFEASIBLE),
            Verdict(True, 1, True, True, avoid_worker=False, charge_worker=False),
        ),
        (
            "the same error twice on the SAME machine proves nothing about the study",
            facts(
                STUDY,
                past=[PastFailure(1, STUDY, INFEASIBLE)],
                fingerprint=INFEASIBLE,
                others=0,
                failures=1,
            ),
            Verdict(True, 2, False, False, avoid_worker=False, charge_worker=True),
        ),
        (
            "another error on the second machine: counted, not confirmed",
            facts(
                STUDY, past=[PastFailure(2, STUDY, INFEASIBLE)], fingerprint=OTHER_FATAL, failures=1
            ),
            Verdict(True, 2, False, False, avoid_worker=True, charge_worker=True),
        ),
        (
            "no fatal line: nothing to compare, it only counts",
            facts(UNKNOWN, past=[PastFailure(2, UNKNOWN, None)], fingerprint=None, failures=1),
            Verdict(True, 2, False, False, avoid_worker=True, charge_worker=True),
        ),
        (
            "unknown failures on different machines reach max_attempts: the job fails",
            facts(
                UNKNOWN,
                past=[PastFailure(2, UNKNOWN, None), PastFailure(3, UNKNOWN, None)],
                failures=2,
            ),
            Verdict(True, 3, True, False, avoid_worker=True, charge_worker=True),
        ),
        (
            "a crash matching a crash elsewhere is still the machines' (identical broken "
            "machines must not fail the job)",
            facts(MACHINE, past=[PastFailure(2, MACHINE, INFEASIBLE)], fingerprint=INFEASIBLE),
            Verdict(False, 0, False, False, avoid_worker=True, charge_worker=True),
        ),
        (
            "a study error matching a past crash's line is not confirmed by it",
            facts(STUDY, past=[PastFailure(2, MACHINE, INFEASIBLE)], fingerprint=INFEASIBLE),
            Verdict(True, 1, False, False, avoid_worker=True, charge_worker=True),
        ),
        (
            "a forgotten worker's failure still counts as another machine's",
            facts(STUDY, past=[PastFailure(None, STUDY, INFEASIBLE)], fingerprint=INFEASIBLE),
            Verdict(True, 1, True, True, avoid_worker=False, charge_worker=False),
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_judge(case: str, given: FailureFacts, expected: Verdict) -> None:
    assert judge(given) == expected, case


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        (
            FailureEvidence(exit_status=1, fatal_line="  Year 3:   infeasible "),
            "exit=1 signal=- fatal=Year 3: infeasible",
        ),
        (
            FailureEvidence(exit_status=139, signal="SIGSEGV", fatal_line="boom"),
            "exit=139 signal=SIGSEGV fatal=boom",
        ),
        (FailureEvidence(exit_status=139, signal="SIGSEGV"), None),
        (FailureEvidence(exit_status=1, fatal_line="   "), None),
        (FailureEvidence(), None),
    ],
)
def test_fingerprint_needs_the_solvers_fatal_line(
    evidence: FailureEvidence, expected: str | None
) -> None:
    assert fingerprint(evidence) == expected


def test_the_same_error_compares_equal_across_machines() -> None:
    one = FailureEvidence(exit_status=1, fatal_line="Year 3:  infeasible")
    two = FailureEvidence(exit_status=1, fatal_line="Year 3: infeasible\t")
    assert fingerprint(one) == fingerprint(two)
    assert fingerprint(one) != fingerprint(FailureEvidence(exit_status=2, fatal_line="Year 3:"))


@pytest.mark.parametrize(
    ("streak", "hold_after", "others_succeeded", "held"),
    [
        (3, 3, True, True),
        (5, 3, True, True),
        (2, 3, True, False),
        (3, 3, False, False),  # nobody succeeds: the jobs are the likelier culprits
        (10, 0, True, False),  # 0 turns holds off
        (1, 1, True, True),
    ],
)
def test_should_hold(streak: int, hold_after: int, others_succeeded: bool, held: bool) -> None:
    assert should_hold(streak, hold_after, others_succeeded) is held


def test_streak_reason_says_crashed_only_for_crashes() -> None:
    assert streak_reason(3, "the solver crashed (SIGSEGV, exit status 139)", True) == (
        "solver crashed 3 times in a row: the solver crashed (SIGSEGV, exit status 139)"
    )
    assert streak_reason(4, "lease expired", False) == "4 failures in a row: lease expired"


def test_job_failure_reasons() -> None:
    confirmed = Verdict(True, 1, True, True, False, False)
    counted = Verdict(True, 3, True, False, False, True)
    assert job_failure_reason("3-4", confirmed, "Year 3: infeasible", ["w2", "w1"]) == (
        "years 3-4 failed with the same error on w2 and w1: Year 3: infeasible"
    )
    assert job_failure_reason("3-4", counted, "boom", ["w1"]) == (
        "years 3-4 failed 3 times; last: boom"
    )


def test_others_can_run_counts_compatible_workers_that_have_not_failed_the_task() -> None:
    pool = [
        CandidateWorker(1, ["8.8"]),  # failed it
        CandidateWorker(2, ["8.8", "9.2"]),
        CandidateWorker(3, ["9.2"]),  # no 8.x solver
        CandidateWorker(4, ["8.6"]),  # the job is pinned to 8.8
    ]
    assert others_can_run(pool, [1], "8.6", "8.8") == 1
    assert others_can_run(pool, [1, 2], "8.6", "8.8") == 0
    assert others_can_run(pool, [1], "8.6", None) == 2  # not pinned yet: 8.6 runs it too
    assert others_can_run([], [None], "8.8", "8.8") == 0

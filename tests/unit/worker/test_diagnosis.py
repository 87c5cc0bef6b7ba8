"""What the worker makes of a failed attempt: the kind and the evidence it sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from winjobs.wire import FailureEvidence, FailureKind
from winjobs.worker.diagnosis import crash_of, diagnose_exit, first_fatal
from winjobs.worker.solvers import Solver, config_fingerprint

LOG = "[2024-05-01 10:00:00][solver][infos] Loading\n"
FATAL = "[2024-05-01 10:00:01][solver][fatal] Year 3: the problem is infeasible\n"


@pytest.mark.parametrize(
    ("exit_code", "crash"),
    [
        (-11, "SIGSEGV"),  # POSIX: killed by a signal
        (-9, "SIGKILL"),  # the out-of-memory killer
        (-15, "signal 15"),
        (139, "SIGSEGV"),  # 128 + 11, as a shell (or the stand-in) reports it
        (134, "SIGABRT"),
        (0xC0000005, "access violation"),  # Windows
        (0xC0000135, "DLL not found"),
        (0, None),
        (1, None),
        (42, None),
        (130, None),  # 128 + SIGINT: an interruption, not a crash
    ],
)
def test_crash_of(exit_code: int, crash: str | None) -> None:
    assert crash_of(exit_code) == crash


@pytest.mark.parametrize(
    ("exit_code", "log", "kind", "evidence", "reason"),
    [
        (
            139,
            LOG,
            FailureKind.MACHINE,
            FailureEvidence(exit_status=139, signal="SIGSEGV"),
            "the solver crashed (SIGSEGV, exit status 139)",
        ),
        (
            -11,
            LOG + FATAL,  # a crash with a fatal line is still a crash
            FailureKind.MACHINE,
            FailureEvidence(
                exit_status=-11, signal="SIGSEGV", fatal_line="Year 3: the problem is infeasible"
            ),
            "the solver crashed (SIGSEGV, exit status -11)",
        ),
        (42, LOG, FailureKind.MACHINE, FailureEvidence(exit_status=42), None),
        (
            1,
            LOG + FATAL,
            FailureKind.STUDY,
            FailureEvidence(exit_status=1, fatal_line="Year 3: the problem is infeasible"),
            None,
        ),
        (
            0,
            LOG + FATAL,
            FailureKind.STUDY,
            FailureEvidence(exit_status=0, fatal_line="Year 3: the problem is infeasible"),
            None,
        ),
        (1, LOG, FailureKind.UNKNOWN, FailureEvidence(exit_status=1), None),
        (0, LOG, FailureKind.UNKNOWN, FailureEvidence(exit_status=0), None),
    ],
)
def test_diagnose_exit(
    exit_code: int,
    log: str,
    kind: FailureKind,
    evidence: FailureEvidence,
    reason: str | None,
) -> None:
    seen = diagnose_exit(exit_code, log, None)
    assert (seen.kind, seen.evidence, seen.reason) == (kind, evidence, reason)


def test_the_fatal_line_does_not_depend_on_the_machine(tmp_path: Path) -> None:
    """Two workers stage a task in different folders: the same error must look the same."""
    lines = []
    for root in (tmp_path / "a" / "job1-task2-a1", tmp_path / "b" / "job1-task2-a2"):
        text = f"[x][solver][fatal] cannot read {root / 'study' / 'input' / 'load.txt'}\n"
        lines.append(first_fatal(text, root))
    assert lines[0] == lines[1]
    assert lines[0] is not None and lines[0].startswith("cannot read <task>")
    assert first_fatal(LOG, tmp_path) is None
    long = first_fatal("[x][solver][fatal] " + "x" * 5000, None)
    assert long is not None and len(long) == 2000  # what the wire accepts


def test_config_fingerprint_changes_with_what_runs_the_tasks(tmp_path: Path) -> None:
    executable = tmp_path / "antares-8.8-solver"
    executable.write_text("one")
    solvers = {"8.8": Solver("8.8", executable, "8.8.10")}
    first = config_fingerprint(4, solvers)
    assert len(first) == 64 and first == config_fingerprint(4, solvers)
    assert config_fingerprint(8, solvers) != first  # other cores
    executable.write_text("reinstalled")  # same path, another file
    assert config_fingerprint(4, solvers) != first
    other = {"8.8": Solver("8.8", executable, "8.8.11")}
    assert config_fingerprint(4, other) != config_fingerprint(4, solvers)
    missing = {"8.8": Solver("8.8", tmp_path / "gone", "8.8.10")}
    assert len(config_fingerprint(4, missing)) == 64  # a vanished file is no error

"""Whose fault a failed attempt looks like, from what this worker saw.

The worker sends a first opinion (`FailureKind`) with the evidence it is based on: the
solver's exit status, the signal or crash it died of, its first `[fatal]` line. The driver
decides (`driver/failure_policy.py`: it knows the task's failures on other machines);
this module only reads the facts, the same way on every worker, so that the same error on
two machines looks the same to the driver.

* machine: the solver died of a signal (POSIX), of a crash status (128 + SIGSEGV...,
  a Windows crash code such as access violation) or ran out of memory (exit status 42);
  it could not be started; staging or checking hit the disk (`OSError`).
* study: the solver printed a `[fatal]` line (and did not crash).
* unknown: anything else (exit 1 without a fatal line, no run folder, missing years, the
  task's time limit, the driver refusing the output).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from winjobs.antares.output import fatal_lines
from winjobs.wire import FailureEvidence, FailureKind

#: signals that end a process abnormally, by number (the same on Linux, macOS, Windows
#: where they exist); 9 included: the kernel's out-of-memory killer sends it
CRASH_SIGNALS = {4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV"}
#: Windows exit codes of a crashed process (NTSTATUS), as `subprocess` reports them
WINDOWS_CRASHES = {
    0xC0000005: "access violation",
    0xC000001D: "illegal instruction",
    0xC0000017: "out of memory",
    0xC00000FD: "stack overflow",
    0xC0000135: "DLL not found",
    0xC0000374: "heap corruption",
    0xC0000409: "stack buffer overrun",
}
#: the 8.8 solver's exit status when memory runs out (FORMAT.md)
OUT_OF_MEMORY_EXIT = 42
_MAX_FATAL = 2000
TASK_PLACEHOLDER = "<task>"


@dataclass(frozen=True)
class Diagnosis:
    kind: FailureKind
    evidence: FailureEvidence
    #: a better reason than the run check's, when there is one (a crash)
    reason: str | None = None


def crash_of(exit_code: int) -> str | None:
    """The signal or crash an exit status means, None for an ordinary exit."""
    if exit_code < 0:  # POSIX: killed by a signal
        return CRASH_SIGNALS.get(-exit_code, f"signal {-exit_code}")
    if exit_code - 128 in CRASH_SIGNALS:  # what a shell (or the stand-in) reports
        return CRASH_SIGNALS[exit_code - 128]
    return WINDOWS_CRASHES.get(exit_code)


def first_fatal(log_text: str, task_folder: Path | None) -> str | None:
    """The solver's first fatal line, this attempt's folder written `<task>` (its path
    differs between machines and attempts, the error does not)."""
    lines = fatal_lines(log_text)
    if not lines:
        return None
    line = lines[0]
    if task_folder is not None:
        for form in {str(task_folder), task_folder.as_posix()}:
            line = line.replace(form, TASK_PLACEHOLDER)
    return line[:_MAX_FATAL]


def diagnose_exit(exit_code: int, log_text: str, task_folder: Path | None) -> Diagnosis:
    """An attempt whose solver exited by itself, but whose run is not a success."""
    crash = crash_of(exit_code)
    fatal = first_fatal(log_text, task_folder)
    evidence = FailureEvidence(exit_status=exit_code, signal=crash, fatal_line=fatal)
    if crash is not None:
        return Diagnosis(
            FailureKind.MACHINE,
            evidence,
            f"the solver crashed ({crash}, exit status {exit_code})",
        )
    if exit_code == OUT_OF_MEMORY_EXIT:
        return Diagnosis(FailureKind.MACHINE, evidence)
    if fatal is not None:
        return Diagnosis(FailureKind.STUDY, evidence)
    return Diagnosis(FailureKind.UNKNOWN, evidence)

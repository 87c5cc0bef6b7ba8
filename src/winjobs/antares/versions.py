"""Which solver version may run which study: the Antares compatibility rule.

A solver runs studies of its own major version and the same or an older minor (8.8 runs
8.6 and 8.8 studies, not 9.x; 9.2 runs 9.0 to 9.2, not 8.x): across a major version
Antares changes the study format and the meaning of settings (hydro hot start went in
9.2). Among several compatible solvers the oldest one, the closest to the study, is used.

Here rather than in the driver's scheduler because two programs apply the rule: the
driver when a worker claims, and the Slurm pool manager when it decides whether a
cluster's solvers could take a queued job at all (docs/slurm.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


def parse_version(text: str) -> Version:
    """`"8.8"`, `"8.8.10"` or `"9.2"` -> Version; `"880"` (study.antares style) -> 8.8."""
    raw = text.strip()
    if raw.isdigit() and len(raw) == 3:
        return Version(int(raw[0]), int(raw[1]))
    parts = raw.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise ValueError(f"{text!r} is not an Antares version such as 8.8 or 9.2")
    return Version(int(parts[0]), int(parts[1]))


def can_run(solver: Version, study: Version) -> bool:
    """Whether a solver of version `solver` may run a study of version `study`."""
    return solver.major == study.major and solver.minor >= study.minor


def solver_for(
    study_version: str, pinned: str | None, worker_versions: Iterable[str]
) -> str | None:
    """Which of the declared solver versions runs this job (None: none can).

    `pinned`: the version the job's first claim fixed; every later task needs exactly
    it, since partial runs of different solver versions cannot be merged."""
    declared = {parse_version(v) for v in worker_versions}
    if pinned is not None:
        pin = parse_version(pinned)
        return str(pin) if pin in declared else None
    study = parse_version(study_version)
    compatible = sorted(v for v in declared if can_run(v, study))
    return str(compatible[0]) if compatible else None

"""The Antares version rule: which solver runs which study (driver and Slurm manager)."""

from __future__ import annotations

import pytest

from winjobs.antares.versions import Version, can_run, parse_version, solver_for


@pytest.mark.parametrize(
    ("text", "expected"),
    [("8.8", Version(8, 8)), ("880", Version(8, 8)), ("8.8.10", Version(8, 8)),
     ("9.2", Version(9, 2)), (" 9.0 ", Version(9, 0)), ("860", Version(8, 6))],
)  # fmt: skip
def test_parse_version(text: str, expected: Version) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["", "8", "v8.8", "eight.8", "88"])
def test_parse_version_refuses_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="not an Antares version"):
        parse_version(text)


@pytest.mark.parametrize(
    ("solver", "study", "allowed"),
    [
        ("8.8", "8.8", True),   # same version
        ("8.8", "8.6", True),   # newer minor of the same major reads older studies
        ("8.6", "8.8", False),  # an older solver cannot open a newer study
        ("9.2", "8.8", False),  # across a major: study format and settings changed
        ("8.8", "9.0", False),
        ("9.2", "9.0", True),
        ("9.0", "9.2", False),
    ],
)  # fmt: skip
def test_version_rule(solver: str, study: str, allowed: bool) -> None:
    assert can_run(parse_version(solver), parse_version(study)) is allowed


@pytest.mark.parametrize(
    ("study", "pinned", "declared", "expected"),
    [
        ("8.8", None, ["8.8"], "8.8"),
        ("8.6", None, ["9.2", "8.8", "8.7"], "8.7"),  # the closest newer solver wins
        ("8.6", None, ["8.6", "8.8"], "8.6"),  # an exact match first
        ("8.8", None, ["9.2"], None),
        ("8.8", None, ["8.6"], None),
        ("8.6", "8.8", ["8.6", "8.8"], "8.8"),  # the job is pinned to 8.8 already
        ("8.6", "8.8", ["8.6"], None),  # pinned elsewhere: never mix versions in a job
        ("8.8", None, ["8.8.10"], "8.8"),  # patch levels do not matter
    ],
)
def test_solver_for(study: str, pinned: str | None, declared: list[str], expected: str) -> None:
    assert solver_for(study, pinned, declared) == expected

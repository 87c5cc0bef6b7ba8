"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def shared_antares_dir() -> Path:
    """`../shared/antares` beside the project (or `$WINJOBS_SHARED/antares`)."""
    base = Path(os.environ.get("WINJOBS_SHARED", PROJECT_ROOT.parent / "shared"))
    return base / "antares"


SHARED_ANTARES = shared_antares_dir()
SHARED_REASON = (
    f"the shared Antares material is not at {SHARED_ANTARES} "
    "(it sits beside the project in CI; set WINJOBS_SHARED to point elsewhere)"
)


@pytest.fixture(scope="session")
def shared_antares() -> Path:
    """The read-only shared material; the test is skipped, with the reason, when absent."""
    if not (SHARED_ANTARES / "FORMAT.md").is_file():
        pytest.skip(SHARED_REASON)
    return SHARED_ANTARES


def shared_studies() -> list[Path]:
    """Every real study folder in the shared material (empty when it is absent)."""
    studies = SHARED_ANTARES / "studies"
    if not studies.is_dir():
        return []
    return sorted(p for p in studies.iterdir() if (p / "study.antares").is_file())


def pytest_configure(config: pytest.Config) -> None:
    # Starlette 1.x's TestClient prefers the `httpx2` fork and warns when it runs on httpx;
    # our DriverClient is built on httpx and tests hand it a TestClient (an httpx client),
    # as docs NOTES recommend. Both warnings are about that choice, not about our code.
    for message in (
        "Using `httpx` with `starlette.testclient` is deprecated",
        "You should not use the 'timeout' argument with the TestClient",
    ):
        config.addinivalue_line("filterwarnings", f"ignore:{message}")

"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import signal
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres_server import PostgresServer, PostgresUnavailable, running_server

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Where PYTHONDONTWRITEBYTECODE is set (this machine and CI set it), every Python process
# the suite starts (drivers, workers, CLI calls, stand-in solvers: hundreds of them)
# compiled every module it imports from source again: `import winjobs.driver.app` took
# 3.5 s of CPU instead of 1.5 s, `winjobs jobs` 0.83 s instead of 0.4 s. The suite writes
# the bytecode caches (each written atomically, then read by every later process).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


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


# Starlette 1.x's TestClient prefers the `httpx2` fork and warns (once, on import) when it
# runs on httpx. Our DriverClient is built on httpx and tests hand it a TestClient (an
# httpx client), as the design notes recommend: import it once here, warning silenced.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    import starlette.testclient  # noqa: F401


def pytest_configure(config: pytest.Config) -> None:
    """Two session-wide settings.

    Ctrl-C: let the programs the tests start see SIGINT as a user's terminal sends it. A
    shell that starts the suite in the background without job control (`pytest &` in a
    script, `nohup`) sets SIGINT to "ignored", and every child inherits that across exec:
    the demo, driver and worker tests that press Ctrl-C would then wait for a process that
    never hears it. Python's own handler is not inherited (exec resets handlers), so
    installing it here gives each child the default disposition back.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # DriverClient passes per-request timeouts (long-poll claims), which TestClient ignores
    # with a warning; real clients need them.
    config.addinivalue_line(
        "filterwarnings", "ignore:You should not use the 'timeout' argument with the TestClient"
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session; skips (with why) when none can run."""
    try:
        with running_server() as server:
            yield server
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """SQLAlchemy URL of a fresh, empty database on the session's PostgreSQL server."""
    return postgres_server.fresh_database()

"""A throw-away PostgreSQL server for the test session (the `postgres_url` fixture).

Binaries come from PATH or /usr/lib/postgresql/*/bin. initdb refuses to run as root, and
tests run as root here and in CI, so as root the server runs as the `postgres` system
user (runuser/setpriv), with its data in a fresh temporary folder it owns. It listens on
a free loopback port with trust authentication, fsync off (a crash of the test machine
loses nothing we care about). Each test gets its own database (`fresh_database`).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import psycopg


class PostgresUnavailable(Exception):
    """Why no server can be started here (the tests are skipped with this reason)."""


def _find_bin_dir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if candidates:
        return candidates[0].parent
    raise PostgresUnavailable(
        "PostgreSQL binaries (initdb, postgres) are not installed: `apt-get install "
        "postgresql` (.ci/run does it) to run the PostgreSQL store tests"
    )


def _as_user_prefix() -> tuple[list[str], str | None]:
    """Command prefix that drops root privileges, and the user it switches to."""
    if os.geteuid() != 0:
        return [], None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PostgresUnavailable(
            "running as root without a `postgres` system user to run the server as"
        ) from exc
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--"], "postgres"
    if shutil.which("setpriv"):
        entry = pwd.getpwnam("postgres")
        return [
            "setpriv",
            f"--reuid={entry.pw_uid}",
            f"--regid={entry.pw_gid}",
            "--init-groups",
        ], "postgres"
    raise PostgresUnavailable("running as root and neither runuser nor setpriv is available")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        self.bin_dir = _find_bin_dir()
        self.prefix, self.user = _as_user_prefix()
        self.root = Path(tempfile.mkdtemp(prefix="winjobs-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._counter = 0

    def _chown(self, path: Path) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def start(self) -> None:
        self._chown(self.root)
        self.root.chmod(0o700)
        initdb = [
            *self.prefix,
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ]
        result = subprocess.run(initdb, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {result.stderr.strip()[-500:]}")
        with (self.root / "server.log").open("wb") as log:
            self._spawn(log)
        self._wait_ready()

    def _spawn(self, log: IO[bytes]) -> None:
        self.process = subprocess.Popen(
            [
                *self.prefix,
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.root / "server.log").read_text(errors="replace")[-500:]
                raise PostgresUnavailable(f"postgres exited at start-up: {tail}")
            try:
                with psycopg.connect(self.admin_dsn(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise PostgresUnavailable("postgres did not accept connections within 30 s")

    def admin_dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def fresh_database(self) -> str:
        """Create an empty database; returns its SQLAlchemy URL."""
        self._counter += 1
        name = f"winjobs_test_{self._counter}"
        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop = [*self.prefix, str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data)]
            subprocess.run([*stop, "-m", "fast", "-w"], capture_output=True, check=False)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()

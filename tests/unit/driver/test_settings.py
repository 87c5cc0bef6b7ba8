"""Driver configuration: YAML < WINJOBS_DRIVER_* environment < flags; clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from winjobs.driver.settings import (
    ChunkPolicy,
    Scheduling,
    hash_token,
    load_settings,
    require_tokens,
)
from winjobs.errors import ConfigError

EXAMPLE = """
host: 127.0.0.1
port: 8000
data_dir: ./data/driver
tokens:
  - {name: alice, role: user, token: "alice-secret"}
  - {name: ops, role: admin, token_sha256: "%s"}
  - {name: pool, role: worker, token: "worker-secret"}
"""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("WINJOBS_DRIVER_"):
            monkeypatch.delenv(key)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driver.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_documented_example_loads(tmp_path: Path) -> None:
    digest = hash_token("ops-secret")
    settings = load_settings(write(tmp_path, EXAMPLE % digest))
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert [t.token_sha256 for t in settings.tokens] == [
        hash_token("alice-secret"),
        digest,
        hash_token("worker-secret"),
    ]
    assert all(t.token is None for t in settings.tokens)  # no plain secret kept
    assert "alice-secret" not in repr(settings)
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("data/driver/winjobs.db")
    assert (settings.lease_seconds, settings.max_attempts) == (60.0, 3)
    assert settings.hold_after_failures == 3
    assert settings.chunk_policy is ChunkPolicy.BALANCED
    assert settings.heartbeat_every_s == 15.0
    assert settings.scheduling is Scheduling.FAIR_SHARE
    assert (settings.aging_points_per_hour, settings.aging_max_points) == (1.0, 50)


def test_environment_beats_the_file_and_flags_beat_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path, "port: 8001\nchunk_policy: cores\nlease_seconds: 20\n")
    monkeypatch.setenv("WINJOBS_DRIVER_PORT", "8002")
    monkeypatch.setenv("WINJOBS_DRIVER_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("WINJOBS_DATA_DIR", "/somewhere/else")  # the worker's: ignored
    settings = load_settings(config, port=None)
    assert (settings.port, settings.chunk_policy, settings.lease_seconds) == (
        8002,
        ChunkPolicy.CORES,
        20.0,
    )
    assert settings.resolved_database_url == "postgresql+psycopg://u@h/db"
    assert settings.data_dir == Path("data/driver")
    assert load_settings(config, port=8003).port == 8003


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port: 70000", "`port`: Input should be less than or equal to 65535"),
        ("lease_seconds: 0", "`lease_seconds`: Input should be greater than 0"),
        ("chunk_policy: fastest", "`chunk_policy`: Input should be 'balanced' or 'cores'"),
        ("max_attempts: 0", "max_attempts"),
        ("hold_after_failures: -1", "`hold_after_failures`: Input should be greater than or"),
        ("hold_after_failures: three", "`hold_after_failures`: Input should be a valid integer"),
        ("colour: blue", "unknown key `colour`"),
        ("tokens: [{name: a, role: boss, token: x}]", "tokens.0.role"),
        ("tokens: [{name: a, role: user}]", "exactly one of `token` or `token_sha256`"),
        ("tokens: [{name: a, role: user, token_sha256: abc}]", "64 hexadecimal digits"),
        (
            "tokens: [{name: a, role: user, token: x}, {name: b, role: admin, token: x}]",
            "listed twice",
        ),
        ("database_url: mysql://x", "database_url: use sqlite"),
        ("heartbeat_interval_s: 90", "heartbeat_interval_s must be shorter"),
        ("scheduling: fairest", "`scheduling`: Input should be 'fair_share' or 'strict'"),
        ("fair_share_weights: {mallory: 2}", "'mallory' is not the name of a user token"),
        (
            "tokens: [{name: a, role: user, token: x}]\nfair_share_weights: {a: 0}",
            "weights must be above 0 ('a': 0.0)",
        ),
        ("fair_share_half_life_h: 0", "`fair_share_half_life_h`: Input should be greater"),
        ("aging_points_per_hour: -1", "`aging_points_per_hour`: Input should be greater"),
    ],
)
def test_invalid_configuration_names_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="invalid driver configuration") as error:
        load_settings(write(tmp_path, text))
    assert message in str(error.value)
    assert error.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "message"), [("port: [1", "not valid YAML"), ("- a\n- b\n", "mapping of keys")]
)
def test_unreadable_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.yaml")


def run_driver(*args: str) -> subprocess.CompletedProcess[str]:
    """`winjobs driver ARGS` as a user would type it (expected to stop at once)."""
    winjobs = Path(sys.executable).with_name("winjobs")
    return subprocess.run(
        [str(winjobs), "driver", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_command_exits_2_naming_the_field(tmp_path: Path) -> None:
    result = run_driver("--config", str(write(tmp_path, "port: 70000\n")))
    assert result.returncode == 2
    assert "`port`: Input should be less than or equal to 65535" in result.stderr
    assert result.stderr.count("\n") == 1  # one line, no traceback


def test_a_driver_without_tokens_refuses_to_start_and_says_where_they_go(tmp_path: Path) -> None:
    """The README's `winjobs driver --port ... --data-dir ...` without a config used to
    start a driver that answered 401 to everything; it now stops at once with the fix."""
    result = run_driver("--port", "0", "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2
    assert "no tokens are configured" in result.stderr
    assert "tokens:" in result.stderr and "WINJOBS_DRIVER_TOKENS" in result.stderr


def test_tokens_can_come_from_the_environment_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal's other suggested fix, WINJOBS_DRIVER_TOKENS, does work."""
    monkeypatch.setenv(
        "WINJOBS_DRIVER_TOKENS", '[{"name": "alice", "role": "user", "token": "s3cret"}]'
    )
    settings = load_settings(data_dir=tmp_path)
    require_tokens(settings)
    assert [(t.name, t.role) for t in settings.tokens] == [("alice", "user")]
    monkeypatch.delenv("WINJOBS_DRIVER_TOKENS")
    with pytest.raises(ConfigError, match="no tokens are configured"):
        require_tokens(load_settings(data_dir=tmp_path))

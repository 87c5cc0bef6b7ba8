from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from winjobs.errors import ConfigError
from winjobs.worker.settings import load_settings

ISSUE_EXAMPLE = """\
driver_url: http://127.0.0.1:8000
token: worker-secret
name: pc-01            # default: host name
cores: 4               # 0 = all
data_dir: ./data/worker
solvers:               # Antares version -> solver executable
  "8.8": /opt/antares-8.8/bin/antares-8.8-solver
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("DRIVER_URL", "TOKEN", "NAME", "CORES", "DATA_DIR", "SOLVERS", "SCHEDULE"):
        monkeypatch.delenv(f"WINJOBS_WORKER_{key}", raising=False)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "worker.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_issue_example_loads(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, ISSUE_EXAMPLE))
    assert settings.driver_url == "http://127.0.0.1:8000"
    assert settings.token.get_secret_value() == "worker-secret"
    assert settings.name == "pc-01"
    assert settings.cores == 4
    assert settings.solver_cores == 4
    assert settings.data_dir == Path("data/worker")
    assert settings.solvers == {"8.8": Path("/opt/antares-8.8/bin/antares-8.8-solver")}


def test_defaults_host_name_and_all_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "machine-7")
    monkeypatch.setattr("psutil.cpu_count", lambda logical=True: 12)
    settings = load_settings(None, {"token": "t", "solvers": {"9.2": "/s"}})
    assert settings.name == "machine-7"
    assert settings.cores == 0
    assert settings.solver_cores == 12


def test_precedence_flags_over_env_over_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _write(tmp_path, ISSUE_EXAMPLE)
    monkeypatch.setenv("WINJOBS_WORKER_CORES", "8")
    monkeypatch.setenv("WINJOBS_WORKER_NAME", "from-env")
    monkeypatch.setenv("WINJOBS_WORKER_SOLVERS", '{"9.2": "/env/antares-solver"}')
    flags = {"name": "from-flag", "cores": None, "solvers": {"9.2": "/flag/antares-solver"}}
    settings = load_settings(config, flags)
    assert settings.name == "from-flag"
    assert settings.cores == 8  # env beats the file; an unset flag (None) changes nothing
    # solver maps merge version by version, the higher source winning per version
    assert settings.solvers == {
        "8.8": Path("/opt/antares-8.8/bin/antares-8.8-solver"),
        "9.2": Path("/flag/antares-solver"),
    }
    assert settings.token.get_secret_value() == "worker-secret"  # file, nothing above it


def test_sizes_accept_units(tmp_path: Path) -> None:
    config = _write(
        tmp_path, ISSUE_EXAMPLE + "cache_max_bytes: 1.5GiB\nmin_free_disk_bytes: 500MB\n"
    )
    settings = load_settings(config)
    assert settings.cache_max_bytes == int(1.5 * 1024**3)
    assert settings.min_free_disk_bytes == 500 * 1000**2


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("cores: -1\n", "`cores`: Input should be greater than or equal to 0"),
        ("cores: many\n", "`cores`: Input should be a valid integer"),
        ("colors: 4\n", "unknown key `colors`"),
        ("driver_url: ftp://x\n", "`driver_url`: Value error, must be an http://"),
        ("claim_wait_s: 600\n", "`claim_wait_s`: Input should be less than or equal to 60"),
        ("min_free_disk_bytes: lots\n", "`min_free_disk_bytes`"),
        ("schedule: [always, mon-fry]\n", "`schedule.1`: Value error, 'mon-fry': days are mon"),
        ("schedule: []\n", "`schedule`: List should have at least 1 item"),
        ("idle_source: mouse\n", "`idle_source`: Input should be 'auto', 'windows', 'x11'"),
        ("idle_source: file\n", "idle_source: file needs idle_file"),
        ("vacate_after_s: 0\n", "`vacate_after_s`: Input should be greater than 0"),
        ("max_other_cpu_percent: 150\n", "`max_other_cpu_percent`: Input should be less"),
        ("min_free_memory_bytes: some\n", "`min_free_memory_bytes`"),
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, extra: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_write(tmp_path, ISSUE_EXAMPLE + extra))
    assert expected in str(caught.value)
    assert str(tmp_path / "worker.yaml") in str(caught.value)
    assert caught.value.exit_code == 2


def test_unquoted_and_malformed_versions_are_explained(tmp_path: Path) -> None:
    text = ISSUE_EXAMPLE.replace('"8.8":', "9.2:")
    with pytest.raises(ConfigError, match=r'version 9.2 must be quoted in YAML: "9.2"'):
        load_settings(_write(tmp_path, text))
    with pytest.raises(ConfigError, match=r"version 'v8' must look like 8\.8 or 9\.2"):
        load_settings(None, {"token": "t", "solvers": {"v8": "/s"}})


def test_missing_required_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_write(tmp_path, "cores: 2\n"))
    message = str(caught.value)
    assert "`token` is required" in message
    assert "WINJOBS_WORKER_TOKEN" in message
    assert "`solvers` is required" in message
    with pytest.raises(ConfigError, match=r"`solvers`: .*at least 1"):
        load_settings(None, {"token": "t", "solvers": {}})
    with pytest.raises(ConfigError, match="`token`: Value error, must not be empty"):
        load_settings(None, {"token": "  ", "solvers": {"8.8": "/s"}})


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "does not exist"),
        ("solvers: [unclosed\n", "is not valid YAML"),
        ("- a list\n", "must be a mapping of keys \\(`key: value` lines\\)"),
    ],
)
def test_bad_files(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "worker.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected):
        load_settings(path)


def test_two_loads_do_not_share_their_file(tmp_path: Path) -> None:
    first = load_settings(_write(tmp_path, ISSUE_EXAMPLE))
    second = load_settings(None, {"token": "t", "solvers": {"9.2": "/s"}})
    assert first.name == "pc-01"
    assert second.name != "pc-01"
    assert second.cores == 0


OFFICE_PC = """\
schedule:
  - mon-fri 19:00-07:30
  - mon-fri 07:30-19:00 cores=2 idle=15m
  - sat,sun
max_other_cpu_percent: 30
min_free_memory_bytes: 2GiB
vacate_after_s: 900
"""


def test_the_office_pc_of_the_docs_loads(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, ISSUE_EXAMPLE + OFFICE_PC))
    policy = settings.owner_policy
    assert [w.text for w in policy.windows] == [
        "mon-fri 19:00-07:30",
        "mon-fri 07:30-19:00 cores=2 idle=15m",
        "sat,sun",
    ]
    assert (policy.default_cores, policy.windows[1].cores, policy.windows[1].idle_s) == (4, 2, 900)
    assert (policy.max_other_cpu_percent, policy.min_free_memory) == (30, 2 * 1024**3)
    assert (policy.vacate_after_s, policy.resume_idle_s) == (900, 300)


def test_without_a_schedule_the_worker_always_works() -> None:
    settings = load_settings(None, {"token": "t", "solvers": {"8.8": "/s"}, "cores": 3})
    assert settings.schedule == ["always"]
    assert settings.owner_policy.window_at(datetime.now(UTC)) is not None
    assert settings.owner_policy.max_other_cpu_percent is None


def test_the_schedule_from_the_environment_and_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = {"token": "t", "solvers": {"8.8": "/s"}}
    monkeypatch.setenv("WINJOBS_WORKER_SCHEDULE", '["sat,sun", "mon-fri 20:00-06:00"]')
    assert load_settings(None, base).schedule == ["sat,sun", "mon-fri 20:00-06:00"]
    flags = {**base, "schedule": ["always cores=1"]}
    assert load_settings(None, flags).schedule == ["always cores=1"]
    monkeypatch.setenv("WINJOBS_WORKER_SCHEDULE", "sat,sun")  # not JSON
    with pytest.raises(ConfigError) as caught:
        load_settings(None, base)
    assert 'field "schedule"' in str(caught.value)
    assert "written in JSON" in str(caught.value)

"""Driver URL and token: flag > environment > user config file, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from winjobs.cli.localjobs import LocalJobs
from winjobs.cli.userconfig import default_config_path, load_user_config, resolve_connection
from winjobs.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write(tmp_path / "config.yaml", "driver: http://file:8000\ntoken: file-token\n")


def test_file_alone_supplies_both(config: Path) -> None:
    conn = resolve_connection(None, None, environ={}, config_path=config)
    assert (conn.driver_url, conn.token) == ("http://file:8000", "file-token")
    assert conn.driver_source == conn.token_source == f"the user config file {config}"


def test_environment_beats_file(config: Path) -> None:
    env = {"WINJOBS_DRIVER": "http://env:1/", "WINJOBS_TOKEN": "env-token"}
    conn = resolve_connection(None, None, environ=env, config_path=config)
    assert (conn.driver_url, conn.token) == ("http://env:1", "env-token")
    assert (conn.driver_source, conn.token_source) == ("WINJOBS_DRIVER", "WINJOBS_TOKEN")


def test_flag_beats_environment_each_setting_on_its_own(config: Path) -> None:
    env = {"WINJOBS_DRIVER": "http://env:1", "WINJOBS_TOKEN": "env-token"}
    conn = resolve_connection("https://flag:2", None, environ=env, config_path=config)
    assert (conn.driver_url, conn.driver_source) == ("https://flag:2", "--driver")
    assert (conn.token, conn.token_source) == ("env-token", "WINJOBS_TOKEN")


def test_empty_variable_counts_as_unset(config: Path) -> None:
    conn = resolve_connection(None, None, environ={"WINJOBS_TOKEN": " "}, config_path=config)
    assert conn.token == "file-token"


def test_nothing_anywhere_says_the_three_places(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as caught:
        resolve_connection(None, "t", environ={}, config_path=missing)
    message = str(caught.value)
    assert "--driver URL" in message and "WINJOBS_DRIVER" in message and str(missing) in message
    assert caught.value.exit_code == 2
    with pytest.raises(ConfigError, match="no token given: pass --token TOKEN"):
        resolve_connection("http://x:1", None, environ={}, config_path=missing)


def test_empty_flag_is_an_error(config: Path) -> None:
    with pytest.raises(ConfigError, match="--token is empty"):
        resolve_connection(None, "", environ={}, config_path=config)


def test_bad_url_names_its_source(config: Path) -> None:
    with pytest.raises(ConfigError, match="'driver:8000' from WINJOBS_DRIVER must start with"):
        resolve_connection(
            None, None, environ={"WINJOBS_DRIVER": "driver:8000"}, config_path=config
        )


def test_file_is_not_read_when_flags_give_everything(tmp_path: Path) -> None:
    broken = write(tmp_path / "config.yaml", "driver: [unclosed\n")
    conn = resolve_connection("http://a:1", "t", environ={}, config_path=broken)
    assert conn.driver_url == "http://a:1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("driver: [unclosed\n", r"is not valid YAML \(line 2\)"),
        ("- a\n- b\n", "must be a mapping"),
        ("drver: http://x\n", "unknown key 'drver' \\(known keys: driver, token, notify\\)"),
        ("token: [1, 2]\n", "key 'token': Input should be a valid string"),
    ],
)
def test_broken_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "config.yaml", text)
    with pytest.raises(ConfigError, match=message):
        load_user_config(path)


def test_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    assert load_user_config(write(tmp_path / "c.yaml", "")).driver is None


def test_default_path_per_platform(tmp_path: Path) -> None:
    assert default_config_path({"WINJOBS_CONFIG": "/x/c.yaml"}, "linux") == Path("/x/c.yaml")
    assert default_config_path({"APPDATA": r"C:\Users\a\AppData\Roaming"}, "win32") == Path(
        r"C:\Users\a\AppData\Roaming", "winjobs", "config.yaml"
    )
    assert default_config_path({"XDG_CONFIG_HOME": "/cfg"}, "linux") == Path(
        "/cfg/winjobs/config.yaml"
    )
    assert default_config_path({}, "linux") == Path.home() / ".config" / "winjobs" / "config.yaml"


def test_local_jobs_remember_per_driver(tmp_path: Path) -> None:
    record = LocalJobs.beside(tmp_path / "cfg" / "config.yaml")
    study_a, study_b = tmp_path / "a", tmp_path / "b"
    record.remember("http://one:1/", 7, study_a)
    record.remember("http://two:1", 7, study_b)
    assert record.study_of("http://one:1", 7) == study_a.resolve()
    assert record.study_of("http://two:1", 7) == study_b.resolve()
    assert record.study_of("http://one:1", 8) is None
    record.remember("http://one:1", 7, study_b)  # the same job again: the newest wins
    assert record.study_of("http://one:1", 7) == study_b.resolve()


def test_damaged_local_record_is_forgotten_not_fatal(tmp_path: Path) -> None:
    record = LocalJobs(write(tmp_path / "submitted-jobs.json", "{not json"))
    assert record.study_of("http://one:1", 1) is None
    record.remember("http://one:1", 1, tmp_path)
    assert record.study_of("http://one:1", 1) == tmp_path.resolve()

"""The one way driver and worker read configuration: flags > environment > YAML > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from winjobs.configfiles import LayeredSettings, read_yaml_mapping
from winjobs.errors import ConfigError


class Sample(LayeredSettings):
    model_config = SettingsConfigDict(env_prefix="WINJOBS_SAMPLE_", extra="forbid")

    port: int = Field(8000, le=65535)
    name: str = "default"
    token: str


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sample.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_flags_beat_environment_beat_yaml_beat_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path, "port: 1\nname: from-yaml\ntoken: yaml-token\n")
    monkeypatch.setenv("WINJOBS_SAMPLE_NAME", "from-env")
    monkeypatch.setenv("WINJOBS_SAMPLE_TOKEN", "env-token")
    settings = Sample.load(config, {"token": "flag-token", "port": None}, what="sample")
    assert (settings.port, settings.name, settings.token) == (1, "from-env", "flag-token")
    monkeypatch.delenv("WINJOBS_SAMPLE_NAME")
    assert Sample.load(config, None, what="sample").name == "from-yaml"
    assert Sample.load(None, {"token": "t"}, what="sample").name == "default"


def test_one_load_does_not_leak_into_the_next(tmp_path: Path) -> None:
    Sample.load(write(tmp_path, "token: a\nport: 2\n"), None, what="sample")
    assert Sample.load(None, {"token": "b"}, what="sample").port == 8000


def test_every_bad_key_is_named_on_one_line(tmp_path: Path) -> None:
    config = write(tmp_path, "port: 70000\ncolour: blue\n")
    with pytest.raises(ConfigError) as caught:
        Sample.load(config, None, what="sample settings")
    message = str(caught.value)
    assert message.startswith(f"invalid sample settings (config file {config}): ")
    assert "`port`: Input should be less than or equal to 65535" in message
    assert "unknown key `colour`" in message
    assert "`token` is required (YAML key token, or WINJOBS_SAMPLE_TOKEN)" in message
    assert "\n" not in message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "does not exist"),
        ("port: [1\n", r"is not valid YAML \(line 2\)"),
        ("- a\n- b\n", "must be a mapping of keys"),
        ("\xff\xfe", "cannot be read"),
    ],
)
def test_broken_files(tmp_path: Path, text: str | None, expected: str) -> None:
    path = tmp_path / "sample.yaml"
    if text is not None:
        path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError, match=expected):
        read_yaml_mapping(path)


def test_empty_file_is_an_empty_mapping(tmp_path: Path) -> None:
    assert read_yaml_mapping(write(tmp_path, "")) == {}

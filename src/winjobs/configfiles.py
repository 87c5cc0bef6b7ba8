"""Configuration files: one way to read a YAML config and to layer it under env and flags.

The driver and the worker both read `--config FILE` (YAML), `WINJOBS_<ACTOR>_*` environment
variables and command-line flags, in that order of increasing priority, and both must stop
at start-up with one line naming every bad key. The CLI's user config file is a plain YAML
mapping too. Keeping the reading and the error wording here means a user sees the same
messages whichever program they configure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import AfterValidator, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsError,
)

from winjobs.errors import ConfigError

#: The parsed YAML file of the settings being built (a context variable rather than a
#: class attribute so that two loads in one process, e.g. in tests, cannot see each other's).
_YAML_DATA: ContextVar[Mapping[str, Any] | None] = ContextVar("winjobs_yaml_data", default=None)


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("must be an http:// or https:// URL, e.g. http://driver-host:8000")
    return value.rstrip("/")


def _not_blank(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("must not be empty")
    return value


#: The driver's address in a worker's or a pool manager's settings, without a final `/`.
DriverUrl = Annotated[str, AfterValidator(_http_url)]
#: A token in a worker's or a pool manager's settings: never shown, never blank.
Token = Annotated[SecretStr, AfterValidator(_not_blank)]


def read_yaml_mapping(path: Path, what: str = "config file") -> dict[str, Any]:
    """The `key: value` mapping of a YAML file; ConfigError saying what is wrong with it.

    An empty file is an empty mapping. `what` names the file in messages ("config file",
    "user config file").
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{what} {path} is not valid YAML{line}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must be a mapping of keys (`key: value` lines)")
    return data


def describe_errors(exc: ValidationError, env_prefix: str = "", key_prefix: str = "") -> str:
    """Every validation problem as `` `key`: reason ``, joined on one line.

    `key_prefix` names settings nested in another file's key (`worker.` for the worker
    template of a Slurm pool)."""
    lines = []
    for item in exc.errors():
        field = key_prefix + (".".join(str(part) for part in item["loc"]) or "config")
        if item["type"] == "extra_forbidden":
            lines.append(f"unknown key `{field}`")
        elif item["type"] == "missing":
            env = f", or {env_prefix}{field.upper()}" if env_prefix else ""
            lines.append(f"`{field}` is required (YAML key {field}{env})")
        else:
            lines.append(f"`{field}`: {item['msg']}")
    return "; ".join(lines)


@contextmanager
def _yaml_layer(data: Mapping[str, Any]) -> Iterator[None]:
    token = _YAML_DATA.set(data)
    try:
        yield
    finally:
        _YAML_DATA.reset(token)


class LayeredSettings(BaseSettings):
    """Settings read from, highest priority first: flags, environment, YAML file, defaults.

    Subclasses set `model_config` (`env_prefix`, `extra="forbid"`...) and are built with
    `load()`, never directly, so that every error becomes one ConfigError.
    """

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_layer = InitSettingsSource(settings_cls, init_kwargs=dict(_YAML_DATA.get() or {}))
        return (init_settings, env_settings, yaml_layer)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Self:
        """Settings from `values` and the environment, with no YAML file under them (a
        template inside another program's file: a Slurm pool's worker settings).
        Raises pydantic's ValidationError."""
        with _yaml_layer({}):
            return cls(**values)

    @classmethod
    def load(cls, config_file: Path | None, flags: Mapping[str, Any] | None, *, what: str) -> Self:
        """Settings from `config_file`, the environment and `flags` (None values unset).

        Raises ConfigError (exit status 2) naming every bad key; `what` names the settings
        in the message ("driver configuration").
        """
        data = read_yaml_mapping(config_file) if config_file is not None else {}
        given = {key: value for key, value in (flags or {}).items() if value is not None}
        try:
            with _yaml_layer(data):
                return cls(**given)
        except ValidationError as exc:
            where = f" (config file {config_file})" if config_file is not None else ""
            prefix = str(cls.model_config.get("env_prefix") or "")
            raise ConfigError(f"invalid {what}{where}: {describe_errors(exc, prefix)}") from exc
        except SettingsError as exc:  # an environment variable that is not the JSON it must be
            raise ConfigError(
                f"invalid {what}: {exc}: lists and mappings in environment variables are "
                'written in JSON, e.g. ["mon-fri 19:00-07:30", "sat,sun"] or {"8.8": "/opt/s"}'
            ) from exc

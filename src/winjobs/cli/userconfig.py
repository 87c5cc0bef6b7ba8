"""Where the user commands find the driver and the token.

Each of the two settings is taken from the first place that has it:

1. the command-line flag (`--driver URL`, `--token TOKEN`);
2. the environment (`WINJOBS_DRIVER`, `WINJOBS_TOKEN`; an empty variable counts as unset);
3. the user config file, a small YAML file with the keys `driver` and `token` (and
   `notify`: the default targets of `winjobs submit --notify`):
   `%APPDATA%\\winjobs\\config.yaml` on Windows, `$XDG_CONFIG_HOME/winjobs/config.yaml`
   (default `~/.config/winjobs/config.yaml`) elsewhere, or the file named by
   `WINJOBS_CONFIG`.

A flag beats a variable beats the file, so a script can override one setting without
touching the user's file. Every value remembers where it came from, so that an error
("the token from WINJOBS_TOKEN was refused") tells the user which one to fix.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from winjobs.configfiles import read_yaml_mapping
from winjobs.errors import ConfigError
from winjobs.wire import parse_notify_targets

CONFIG_ENV = "WINJOBS_CONFIG"
DRIVER_ENV = "WINJOBS_DRIVER"
TOKEN_ENV = "WINJOBS_TOKEN"


class UserConfigFile(BaseModel):
    """The keys a user config file may hold (anything else is a typo worth reporting)."""

    model_config = ConfigDict(extra="forbid")

    driver: str | None = None
    token: str | None = None
    #: whom `winjobs submit` tells when a job ends, unless `--notify` is given
    notify: list[str] = []

    @field_validator("notify")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        return parse_notify_targets(value)


@dataclass(frozen=True)
class Connection:
    """The driver to talk to and the token to show it, each with where it came from."""

    driver_url: str
    token: str
    driver_source: str
    token_source: str


def default_config_path(
    environ: Mapping[str, str] | None = None, platform: str | None = None
) -> Path:
    """The user config file this process reads (it need not exist)."""
    env = os.environ if environ is None else environ
    plat = sys.platform if platform is None else platform
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser()
    if plat == "win32":
        base = env.get("APPDATA")
        root = Path(base) if base else Path.home() / "AppData" / "Roaming"
    else:
        base = env.get("XDG_CONFIG_HOME")
        root = Path(base) if base else Path.home() / ".config"
    return root / "winjobs" / "config.yaml"


def load_user_config(path: Path) -> UserConfigFile:
    """Read the user config file; a missing file is an empty config, a broken one an error."""
    if not path.exists():
        return UserConfigFile()
    data = read_yaml_mapping(path, "the user config file")
    try:
        return UserConfigFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"the user config file {path}: {_first_problem(exc)}") from exc


def default_notify_targets(environ: Mapping[str, str] | None = None) -> list[str]:
    """The user config file's `notify` list: whom to tell when `--notify` is not given."""
    return load_user_config(default_config_path(environ)).notify


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    key = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        known = ", ".join(UserConfigFile.model_fields)
        return f"unknown key '{key}' (known keys: {known})"
    return f"key '{key}': {error['msg']}"


def resolve_connection(
    driver_flag: str | None,
    token_flag: str | None,
    environ: Mapping[str, str] | None = None,
    config_path: Path | None = None,
) -> Connection:
    """Apply the precedence flag > environment > config file to both settings."""
    env = os.environ if environ is None else environ
    path = config_path if config_path is not None else default_config_path(env)
    file_config: UserConfigFile | None = None

    def from_file() -> UserConfigFile:
        nonlocal file_config
        if file_config is None:
            file_config = load_user_config(path)
        return file_config

    driver, driver_source = _pick(
        driver_flag, "--driver", env, DRIVER_ENV, lambda: from_file().driver, path
    )
    token, token_source = _pick(
        token_flag, "--token", env, TOKEN_ENV, lambda: from_file().token, path
    )
    if driver is None:
        raise ConfigError(
            f"no driver given: pass --driver URL, set {DRIVER_ENV}, "
            f"or write 'driver: URL' in {path}"
        )
    if token is None:
        raise ConfigError(
            f"no token given: pass --token TOKEN, set {TOKEN_ENV}, "
            f"or write 'token: TOKEN' in {path}"
        )
    return Connection(
        driver_url=check_driver_url(driver, driver_source),
        token=token,
        driver_source=driver_source,
        token_source=token_source,
    )


def _pick(
    flag: str | None,
    flag_name: str,
    env: Mapping[str, str],
    env_name: str,
    file_value: Callable[[], str | None],
    path: Path,
) -> tuple[str | None, str]:
    if flag is not None:
        if not flag.strip():
            raise ConfigError(f"{flag_name} is empty")
        return flag.strip(), flag_name
    if env.get(env_name, "").strip():
        return env[env_name].strip(), env_name
    value = file_value()
    if value is not None and value.strip():
        return value.strip(), f"the user config file {path}"
    return None, ""


def check_driver_url(url: str, source: str) -> str:
    """A driver URL must be http(s)://host[:port][/prefix]; mistakes are caught before I/O."""
    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1]) == 0:
        raise ConfigError(
            f"the driver URL {url!r} from {source} must start with http:// or https://"
        )
    return url.rstrip("/")

"""The `dashboard:` keys of the driver's configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from winjobs.driver.settings import load_settings
from winjobs.errors import ConfigError


def test_defaults_and_yaml(tmp_path: Path) -> None:
    assert load_settings(None).dashboard.session_hours == 12
    config = tmp_path / "driver.yaml"
    config.write_text("dashboard:\n  session_hours: 1.5\n  refresh_seconds: 0\n", encoding="utf-8")
    dashboard = load_settings(config).dashboard
    assert (dashboard.session_hours, dashboard.refresh_seconds) == (1.5, 0)
    assert (dashboard.cookie_secure, dashboard.jobs_per_page) == (False, 100)


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"session_hours": 0}, "dashboard.session_hours"),
        ({"refresh_seconds": -1}, "dashboard.refresh_seconds"),
        ({"jobs_per_page": 0}, "dashboard.jobs_per_page"),
        ({"sessions": 3}, "dashboard.sessions"),
    ],
)
def test_bad_values_name_the_key(value: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_settings(None, dashboard=value)

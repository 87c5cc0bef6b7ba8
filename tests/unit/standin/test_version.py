"""Which version the stand-in poses as."""

from __future__ import annotations

import pytest

from winjobs.errors import ConfigError
from winjobs.standin.version import VERSION_ENV, parse_version, posed_version


def test_default_is_the_golden_runs_version() -> None:
    version = posed_version({}, "/usr/bin/winjobs-standin-solver")
    assert version.text == "8.8.10"
    assert version.format_version == "880"
    assert version.executable_name == "antares-8.8-solver"


def test_environment_wins() -> None:
    version = posed_version({VERSION_ENV: "9.2"}, "antares-8.8-solver")
    assert version.text == "9.2.0"
    assert version.format_version == "9.2"
    assert version.executable_name == "antares-solver"


@pytest.mark.parametrize(
    ("argv0", "expected"),
    [
        ("/opt/bin/antares-9.2-solver", "9.2.0"),
        ("C:\\Antares\\bin\\antares-9.0-solver.exe", "9.0.0"),
        ("antares-8.8-solver", "8.8.10"),
        ("antares-solver", "8.8.10"),
    ],
)
def test_version_from_executable_name(argv0: str, expected: str) -> None:
    assert posed_version({}, argv0).text == expected


def test_full_version_text() -> None:
    assert parse_version("9.3.1").text == "9.3.1"


@pytest.mark.parametrize("text", ["nine", "9", "9.x", ""])
def test_bad_versions_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match=VERSION_ENV):
        parse_version(text)

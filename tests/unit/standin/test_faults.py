"""Fault knobs are read strictly from the environment."""

from __future__ import annotations

import pytest

from winjobs.errors import ConfigError
from winjobs.standin.faults import (
    CRASH_ENV,
    DEFAULT_SECONDS_PER_YEAR,
    FAIL_YEAR_ENV,
    HANG_ENV,
    PARTIAL_ENV,
    SECONDS_ENV,
    faults_from_env,
)


def test_defaults() -> None:
    faults = faults_from_env({})
    assert faults.seconds_per_year == DEFAULT_SECONDS_PER_YEAR
    assert faults.fail_year is None and faults.partial_after is None
    assert not faults.crash and not faults.hang


def test_every_knob() -> None:
    faults = faults_from_env(
        {SECONDS_ENV: "0", FAIL_YEAR_ENV: "3", CRASH_ENV: "1", HANG_ENV: "true", PARTIAL_ENV: "2"}
    )
    assert faults.seconds_per_year == 0.0
    assert faults.fail_year == 3
    assert faults.crash and faults.hang
    assert faults.partial_after == 2


@pytest.mark.parametrize(
    "environ",
    [
        {SECONDS_ENV: "-1"},
        {SECONDS_ENV: "fast"},
        {SECONDS_ENV: "nan"},
        {FAIL_YEAR_ENV: "-2"},
        {PARTIAL_ENV: "x"},
        {CRASH_ENV: "maybe"},
    ],
)
def test_malformed_values_are_errors(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=next(iter(environ))):
        faults_from_env(environ)


def test_uneven_year_times_cycle_over_the_years() -> None:
    faults = faults_from_env({SECONDS_ENV: "0.5,2,1"})
    assert [faults.seconds_for(year) for year in range(5)] == [0.5, 2.0, 1.0, 0.5, 2.0]
    assert faults_from_env({SECONDS_ENV: "0.25"}).seconds_for(7) == 0.25
    with pytest.raises(ConfigError, match="comma-separated list"):
        faults_from_env({SECONDS_ENV: "1,-2"})

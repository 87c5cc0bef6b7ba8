"""The synthetic generator: deterministic, time rules of the solver, catalogue order."""

from __future__ import annotations

import numpy as np
import pytest

from winjobs.antares.calendar import PERIODS, Calendar
from winjobs.antares.variables import variable
from winjobs.standin.aggregate import TimeRule, aggregate, district_values
from winjobs.standin.calendar import hour_groups, log_lines, nb_hours, period_starts
from winjobs.standin.catalogue import (
    ADEQUACY_AREA,
    ADEQUACY_LINK,
    ADEQUACY_SET,
    ECONOMY_AREA,
    ECONOMY_LINK,
    ECONOMY_SET,
    VALUES,
    entries,
)
from winjobs.standin.data import simulate_year
from winjobs.standin.system import Area, Cluster, Link, System


def _system(calendar: Calendar, digest: bytes = b"input", mode: str = "economy") -> System:
    north = Area("North", "north", clusters=(Cluster("base", 4, 500.0), Cluster("peak", 2, 200.0)))
    south = Area("South", "south", reservoir=True)
    west = Area("West", "west")
    links = (Link(north, south), Link(north, west), Link(south, west))
    return System((north, south, west), links, calendar, digest, mode)


@pytest.fixture(scope="module")
def year_calendar() -> Calendar:
    return Calendar.from_settings()


@pytest.mark.parametrize(
    "names",
    [ECONOMY_AREA, ECONOMY_SET, ECONOMY_LINK, ADEQUACY_AREA, ADEQUACY_SET, ADEQUACY_LINK],
)
def test_every_listed_column_is_in_the_variable_catalogue(names: tuple[str, ...]) -> None:
    """The merge reads what the stand-in writes with the same catalogue: every values
    column of the solver's lists must be known there (caption, unit, decimals, rule)."""
    columns = [e for e in entries(names) if e.kind == VALUES]
    assert columns and all(variable(e.caption) is not None for e in columns)
    rules = {variable(e.caption).rule.value for e in columns}  # type: ignore[union-attr]
    assert rules <= {
        "full",
        "exp-only",
        "mean-values",
        "cong-prob",
        "quad-flow",
        "input-copy",
        "not-mergeable",
    }


def test_a_year_depends_on_digest_mode_and_year_only(year_calendar: Calendar) -> None:
    system = _system(year_calendar)
    first = simulate_year(system, 3)
    again = simulate_year(system, 3)
    for area, values in first.areas.items():
        for caption, hourly in values.items():
            np.testing.assert_array_equal(hourly, again.areas[area][caption])
    other_year = simulate_year(system, 4).areas["north"]["LOAD"]
    other_mode = simulate_year(_system(year_calendar, mode="adequacy"), 3).areas["north"]["LOAD"]
    other_input = simulate_year(_system(year_calendar, digest=b"other"), 3).areas["north"]["LOAD"]
    for other in (other_year, other_mode, other_input):
        assert not np.array_equal(other, first.areas["north"]["LOAD"])


def test_input_copies_are_the_same_every_year(year_calendar: Calendar) -> None:
    system = _system(year_calendar)
    years = [simulate_year(system, y) for y in range(3)]
    for area in ("north", "south"):
        for year in years[1:]:
            np.testing.assert_array_equal(
                year.areas[area]["ROW BAL."], years[0].areas[area]["ROW BAL."]
            )
    for link in ("north - south", "south - west"):
        np.testing.assert_array_equal(
            years[2].links[link]["LOOP FLOW"], years[0].links[link]["LOOP FLOW"]
        )


def test_numbers_are_consistent_and_plausible(year_calendar: Calendar) -> None:
    system = _system(year_calendar)
    years = [simulate_year(system, y) for y in range(8)]
    for year in years:
        for values in year.areas.values():
            assert (values["UNSP. ENRG"] >= 0).all() and (values["SPIL. ENRG"] >= 0).all()
            np.testing.assert_array_equal(values["LOLP"], 100.0 * (values["UNSP. ENRG"] > 0))
            assert (values["LOAD"] > 0).all()
        balance = sum(values["BALANCE"] for values in year.areas.values())
        np.testing.assert_allclose(balance, 0.0, atol=1e-6)  # flows leave one area, enter another
        detail = year.details["north"]
        per_plant = ("MWh", "NP Cost - Euro", "NODU", "Profit - Euro")
        assert set(detail) == {(v, c) for c in ("base", "peak") for v in per_plant}
    load = years[0].areas["north"]["LOAD"].reshape(-1, 24)
    assert load[:, 18].mean() > load[:, 4].mean(), "evening peak above the night"
    lold_years = [sum(y.areas[a]["LOLD"].sum() for a in y.areas) for y in years]
    assert any(lold_years), "some loss of load"
    assert "H. VAL" in years[0].areas["south"], "reservoir: water values"
    assert "H. VAL" not in years[0].areas["west"], "no reservoir: the column prints N/A"
    groups = years[0].areas["north"]["MISC. DTG"]
    first = years[0].details["north"]
    np.testing.assert_allclose(groups, sum(first[("MWh", c)] for c in ("base", "peak")))


def test_districts_aggregate_like_the_solver() -> None:
    ones, twos = np.ones(4), np.full(4, 2.0)
    lold = np.array([0.0, 1.0, 0.0, 0.0])
    members = [
        {"LOAD": ones, "MRG. PRICE": ones, "LOLD": lold, "LOLP": 100 * lold, "H. VAL": ones},
        {"LOAD": twos, "MRG. PRICE": 3 * ones, "LOLD": 0 * lold, "LOLP": 0 * lold},
    ]
    values = district_values(members)
    np.testing.assert_array_equal(values["LOAD"], 3 * ones)
    np.testing.assert_array_equal(values["MRG. PRICE"], 2 * ones)
    np.testing.assert_array_equal(values["LOLD"], lold)
    np.testing.assert_array_equal(values["LOLP"], 100 * lold)
    assert "H. VAL" not in values


def test_aggregation_rules() -> None:
    calendar = Calendar.from_settings(simulation_end=14)
    hours = nb_hours(calendar)
    ramp = np.arange(hours, dtype=np.float64)
    spikes = np.zeros(hours)
    spikes[30] = 100.0
    hourly = np.column_stack([ramp, ramp, spikes])
    rules = [TimeRule.SUM, TimeRule.MEAN, TimeRule.ANY]
    daily = aggregate(hourly, rules, calendar, "daily")
    assert daily.shape == (14, 3)
    assert daily[0, 0] == sum(range(24)) and daily[0, 1] == np.mean(range(24))
    assert list(daily[:3, 2]) == [0.0, 100.0, 0.0]
    annual = aggregate(hourly, rules, calendar, "annual")
    assert annual[0, 0] == ramp.sum() and annual[0, 2] == 100.0


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"simulation_start": 8, "simulation_end": 70},
        {"leapyear": True, "simulation_end": 366},
        {"first_month": "october", "simulation_end": 200},
        {"january_1st": "Wednesday", "simulation_end": 40},
    ],
)
def test_hour_groups_match_the_printed_index_rows(settings: dict[str, object]) -> None:
    calendar = Calendar.from_settings(**settings)  # type: ignore[arg-type]
    for period in PERIODS:
        groups, rows = hour_groups(calendar, period)
        index, _, _ = calendar.index(period)
        assert rows == len(index), period
        assert len(groups) == nb_hours(calendar)
        assert (np.diff(groups) >= 0).all() and groups[0] == 0 and groups[-1] == rows - 1
        starts, counts = period_starts(calendar, period)
        assert len(starts) == rows and counts.sum() == nb_hours(calendar)


def test_calendar_log_lines_like_the_real_log() -> None:
    assert log_lines(Calendar.from_settings(), 5) == [
        "Calendar: hours:1..8736, days:1..364, weeks:1..52, months:1..12, years:1..5",
        "Simulation days per month : 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 30",
    ]
    assert log_lines(Calendar.from_settings(simulation_end=70), 5)[0] == (
        "Calendar: hours:1..1680, days:1..70, weeks:1..10, months:1..3, years:1..5"
    )

"""`--years` specs: 1-based in, 0-based out, and a clear error for every mistake."""

from __future__ import annotations

import pytest

from winjobs.cli.years import YearsError, check_years, format_years, parse_years


@pytest.mark.parametrize(
    ("spec", "years"),
    [
        ("1", [0]),
        ("1-10,15", [*range(10), 14]),
        ("3-3", [2]),
        (" 2 , 5-6 ", [1, 4, 5]),
        ("5,1-3", [0, 1, 2, 4]),  # unordered: sorted
    ],
)
def test_parse_gives_sorted_zero_based_years(spec: str, years: list[int]) -> None:
    assert parse_years(spec) == years


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "--years is empty"),
        ("   ", "--years is empty"),
        ("0", "years count from 1"),
        ("0-3", "years count from 1"),
        ("-3", "'-3' is not a year number"),
        ("3-", "'' is not a year number"),
        ("5-2", "range 5-2 goes backwards"),
        ("1,,3", "empty item between commas"),
        ("1-2-3", "'2-3' is not a year number"),
        ("a", "'a' is not a year number"),
        ("1.5", "'1.5' is not a year number"),
        ("1,1", "'1,1': year 1 is given twice"),
        ("5,1-3,2", "year 2 is given twice"),
        ("1-4,3-6", "year 3 is given twice"),
    ],
)
def test_parse_rejects_with_a_reason(spec: str, message: str) -> None:
    with pytest.raises(YearsError, match=message.replace("(", r"\(")) as caught:
        parse_years(spec)
    assert caught.value.exit_code == 2


def test_check_accepts_active_years() -> None:
    check_years([0, 2], nbyears=5, active=[0, 1, 2, 3, 4])


def test_check_names_the_first_year_beyond_the_study() -> None:
    with pytest.raises(YearsError, match="year 6 is beyond the study's 5 MC years"):
        check_years([0, 5, 7], nbyears=5, active=range(5))


def test_check_names_a_year_outside_the_playlist_and_shows_the_playlist() -> None:
    with pytest.raises(
        YearsError, match=r"year 2 is not in the study's playlist \(active years: 1,3-5\)"
    ):
        check_years([1], nbyears=5, active=[0, 2, 3, 4])


@pytest.mark.parametrize(
    ("years", "text"),
    [
        ([], "-"),
        ([0], "1"),
        ([0, 1, 2], "1-3"),
        ([0, 1, 2, 6], "1-3,7"),
        ([9, 0, 4, 5], "1,5-6,10"),
        ([3, 3, 4], "4-5"),
    ],
)
def test_format_shows_one_based_compact(years: list[int], text: str) -> None:
    assert format_years(years) == text


@pytest.mark.parametrize("years", [[0], [0, 1, 5, 6, 7, 20], list(range(0, 100, 3))])
def test_format_then_parse_round_trips(years: list[int]) -> None:
    assert parse_years(format_years(years)) == years

"""The stand-in reads the real solver's command line (tests/unit/standin/test_options.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from winjobs.standin.options import OPTIONS, Effect, UsageError, parse_command_line


def test_input_option_short_long_and_inline() -> None:
    assert parse_command_line(["-i", "s"]).study == Path("s")
    assert parse_command_line(["--input", "s"]).study == Path("s")
    assert parse_command_line(["--input=s"]).study == Path("s")


def test_study_as_last_argument() -> None:
    options = parse_command_line(["-n", "run", "a", "b"])
    assert options.study == Path("b")
    assert options.name == "run"


def test_input_option_wins_over_positional() -> None:
    assert parse_command_line(["-i", "a", "b"]).study == Path("a")


def test_values_of_every_form() -> None:
    options = parse_command_line(
        ["--name=x", "--force-parallel=3", "-y", "4", "-p", "pid.txt", "-c", "c.txt", "s"]
    )
    assert (options.name, options.force_parallel, options.nbyears) == ("x", 3, 4)
    assert options.pid_file == Path("pid.txt")
    assert options.comment_file == Path("c.txt")
    assert parse_command_line(["--force-parallel", "2", "s"]).force_parallel == 2
    assert parse_command_line(["-nfoo", "s"]).name == "foo"


def test_flags() -> None:
    options = parse_command_line(
        ["--parallel", "--year-by-year", "-z", "-f", "--no-output", "--adequacy", "s"]
    )
    assert options.parallel and options.year_by_year and options.zip_output
    assert options.no_output
    assert options.mode == "adequacy"
    assert parse_command_line(["-v"]).show_version
    assert parse_command_line(["--help"]).show_help
    assert parse_command_line(["-l"]).list_solvers


def test_ignored_options_are_accepted() -> None:
    ignored = [f"--{spec.long}" for spec in OPTIONS if spec.effect is Effect.IGNORED]
    argv: list[str] = []
    for spec in OPTIONS:
        if spec.effect is Effect.IGNORED:
            argv += [f"--{spec.long}=x"] if spec.value else [f"--{spec.long}"]
    options = parse_command_line([*argv, "s"])
    assert options.study == Path("s")
    assert [f"--{name}" for name in options.given] == ignored


def test_refused_options_are_recorded() -> None:
    assert parse_command_line(["-g", "s"]).refused == ["generators-only"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bogus", "s"], "unknown option '--bogus'"),
        (["-q", "s"], "unknown option '-q'"),
        (["--force-parallel=0", "s"], "expected an integer >= 1"),
        (["--force-parallel=two", "s"], "expected an integer >= 1"),
        (["--name"], "requires a value"),
        (["--parallel=3", "s"], "takes no value"),
        (["--parallel", "--force-parallel=2", "s"], "incompatible"),
    ],
)
def test_bad_command_lines(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_command_line(argv)

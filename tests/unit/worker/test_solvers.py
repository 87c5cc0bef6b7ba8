from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.worker.conftest import ScriptFactory
from winjobs.errors import ConfigError
from winjobs.worker.solvers import check_solver, check_solvers, parse_version

BANNER = """
print("[2024-05-01 10:00:00][solver][infos] Antares Solver v8.8.10 (linux)")
print("[2024-05-01 10:00:00][solver][infos]   Log filename: ...")
print("\\x1b[0;32m{version} (revision )\\x1b[0m")
"""


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("banner line\n8.8.10 (revision )\n", "8.8.10"),
        ("9.2.0\n\n  \n", "9.2.0"),
        ("\x1b[0;32m9.1.2 (revision abc)\x1b[0m\n", "9.1.2"),
        ("v9.2\n", "9.2"),
        ("8.8.10 (revision )\nsomething else\n", None),
        ("", None),
    ],
)
def test_parse_version_reads_the_last_line(output: str, expected: str | None) -> None:
    assert parse_version(output) == expected


@pytest.mark.shared_data
def test_the_real_solver_passes_the_check(shared_antares: Path) -> None:
    """The real 8.8.10 binary (through its wrapper, which sets the library path): it may
    also print "impossible to set locale to en_US.utf8" on stderr, and that is fine."""
    solver = check_solver("8.8", shared_antares / "solver-8.8" / "antares-solver")
    assert solver.reported == "8.8.10"


def test_a_locale_complaint_on_stderr_does_not_matter(make_script: ScriptFactory) -> None:
    body = 'import sys\nsys.stderr.write("impossible to set locale to en_US.utf8\\n")\n'
    path = make_script("antares-8.8-solver", body + BANNER.format(version="8.8.10"))
    assert check_solver("8.8", path).reported == "8.8.10"


def test_a_matching_solver_passes(make_script: ScriptFactory) -> None:
    path = make_script("antares-8.8-solver", BANNER.format(version="8.8.10"))
    solver = check_solver("8.8", path)
    assert solver.reported == "8.8.10"
    assert solver.path == path.resolve()


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"solver 8.8 \(.*nowhere\): no such file"):
        check_solver("8.8", tmp_path / "nowhere")


def test_wrong_version(make_script: ScriptFactory) -> None:
    path = make_script("antares-solver", BANNER.format(version="9.2.1"))
    with pytest.raises(ConfigError, match=r"is version 9.2.1, not 8.8: fix the solvers map"):
        check_solver("8.8", path)


def test_not_a_solver(make_script: ScriptFactory, tmp_path: Path) -> None:
    silent = make_script("silent", "print('hello')\n")
    with pytest.raises(ConfigError, match="printed no version"):
        check_solver("8.8", silent)
    failing = make_script("failing", "import sys\nprint('boom')\nsys.exit(3)\n")
    with pytest.raises(ConfigError, match="exited with status 3: boom"):
        check_solver("8.8", failing)
    not_executable = tmp_path / "data.txt"
    not_executable.write_text("x")
    with pytest.raises(ConfigError, match="cannot run it"):
        check_solver("8.8", not_executable)


def test_hanging_version_check_times_out(make_script: ScriptFactory) -> None:
    path = make_script("hang", "import time\ntime.sleep(30)\n")
    with pytest.raises(ConfigError, match="did not answer within"):
        check_solver("8.8", path, timeout_s=0.5)


def test_every_problem_is_listed_at_once(make_script: ScriptFactory, tmp_path: Path) -> None:
    good = make_script("good", BANNER.format(version="9.2.0"))
    with pytest.raises(ConfigError) as caught:
        check_solvers({"8.8": tmp_path / "a", "9.1": good, "9.2": good})
    message = str(caught.value)
    assert "solver 8.8" in message
    assert "is version 9.2.0, not 9.1" in message
    assert "solver 9.2" not in message
    assert set(check_solvers({"9.2": good})) == {"9.2"}

"""The stand-in's command line seen from outside: -v, --help, errors, exit statuses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from tests.unit.standin.conftest import FAST, only_run, python_solver, run_inprocess
from winjobs.standin.faults import FAIL_YEAR_ENV, PARTIAL_ENV, SECONDS_ENV
from winjobs.standin.layout import reserve_run_folder, run_folder_base
from winjobs.standin.version import VERSION_ENV


def test_version_prints_banner_then_version_last() -> None:
    outcome = run_inprocess(["-v"])
    assert outcome.status == 0
    assert outcome.lines[-1] == "8.8.10 (revision )"
    assert "STAND-IN" in outcome.stdout and "SYNTHETIC" in outcome.stdout
    assert outcome.lines[0].startswith("[") and "][noname][infos]" in outcome.lines[0]


def test_version_posed_from_environment() -> None:
    outcome = run_inprocess(["--version"], {VERSION_ENV: "9.2"})
    assert outcome.lines[-1] == "9.2.0 (revision )"


def test_help_lists_real_options_and_stand_in_knobs() -> None:
    outcome = run_inprocess(["-h"])
    assert outcome.status == 0
    for text in ("--force-parallel=VALUE", "--year-by-year", "-z, --zip-output", "STAND-IN",
                 SECONDS_ENV, FAIL_YEAR_ENV, PARTIAL_ENV, VERSION_ENV, "synthetic"):  # fmt: skip
        assert text in outcome.stdout, text


def test_unknown_option_exits_1_with_a_message(tmp_path: Path) -> None:
    outcome = run_inprocess(["--frobnicate", str(tmp_path)])
    assert outcome.status == 1
    assert "unknown option '--frobnicate'" in outcome.stderr
    assert not (tmp_path / "output").exists()


def test_bad_environment_exits_1() -> None:
    outcome = run_inprocess(["-v"], {SECONDS_ENV: "soon"})
    assert outcome.status == 1
    assert SECONDS_ENV in outcome.stderr


def test_refused_option_exits_1_with_fatal_line(tmp_path: Path) -> None:
    outcome = run_inprocess(["-g", str(tmp_path)])
    assert outcome.status == 1
    assert "[fatal]" in outcome.stdout and "--generators-only" in outcome.stdout


def test_missing_study_exits_1(tmp_path: Path) -> None:
    outcome = run_inprocess(["-i", str(tmp_path / "nowhere")])
    assert outcome.status == 1
    assert "[fatal]" in outcome.stdout
    assert run_inprocess([]).status == 1


def test_invalid_study_exits_1_without_run_folder(tmp_path: Path) -> None:
    (tmp_path / "study.antares").write_text("[antares]\nversion = 880\n")
    outcome = run_inprocess([str(tmp_path)])
    assert outcome.status == 1
    assert "[fatal]" in outcome.stdout
    assert not (tmp_path / "output").exists()
    assert list((tmp_path / "logs").glob("solver-*.log")), "the log file still says why"


def test_list_solvers_exits_0() -> None:
    outcome = run_inprocess(["--list-solvers"])
    assert outcome.status == 0 and "sirius" in outcome.stdout


def test_pid_file_and_comment_file(small_study: Callable[..., Path], tmp_path: Path) -> None:
    study = small_study(nbyears=1)
    comment = tmp_path / "comment.txt"
    comment.write_text("why this run\n")
    pid = tmp_path / "solver.pid"
    outcome = run_inprocess(["-p", str(pid), "-c", str(comment), str(study)])
    assert outcome.status == 0
    assert pid.read_text().strip() == str(os.getpid())
    assert (only_run(study) / "about-the-study" / "comments.txt").read_text() == "why this run\n"


def test_run_folder_names_with_clash_suffix(tmp_path: Path) -> None:
    start = datetime(2026, 11, 25, 8, 24, 31)
    assert run_folder_base(start, "economy", "ntc-full") == "20261125-0824eco-ntc-full"
    assert run_folder_base(start, "adequacy", None) == "20261125-0824adq"
    assert run_folder_base(start, "economy", "a/b:c") == "20261125-0824eco-a_b_c"
    base = "20261125-0824eco-x"
    made = [reserve_run_folder(tmp_path, base, zipped=False).name for _ in range(3)]
    assert made == [base, f"{base}-2", f"{base}-3"]
    (tmp_path / f"{base}-4.zip").write_bytes(b"")
    assert reserve_run_folder(tmp_path, base, zipped=True).name == f"{base}-5"


def test_same_minute_runs_get_distinct_folders(small_study: Callable[..., Path]) -> None:
    study = small_study(nbyears=1)
    for _ in range(3):
        assert run_inprocess(["-n", "mine", str(study)]).status == 0
    names = [p.name for p in (study / "output").iterdir()]
    assert len(set(names)) == 3 and all("eco-mine" in name for name in names)


def test_adequacy_flag_and_mode_folder(small_study: Callable[..., Path]) -> None:
    study = small_study(nbyears=1)
    assert run_inprocess(["--adequacy", str(study)]).status == 0
    run = only_run(study)
    assert run.name.endswith("adq")
    assert (run / "adequacy" / "mc-all").is_dir()
    assert "mode = Adequacy" in (run / "info.antares-output").read_text()


def test_zip_output(small_study: Callable[..., Path]) -> None:
    import zipfile

    study = small_study(nbyears=2)
    assert run_inprocess(["-z", str(study)]).status == 0
    (archive,) = (study / "output").iterdir()
    assert archive.suffix == ".zip"
    names = zipfile.ZipFile(archive).namelist()
    assert "execution_info.ini" in names
    assert "economy/mc-ind/00002/areas/north/values-hourly.txt" in names


def test_no_output_writes_no_run_folder(small_study: Callable[..., Path]) -> None:
    study = small_study(nbyears=2)
    outcome = run_inprocess(["--no-output", str(study)])
    assert outcome.status == 0
    assert not (study / "output").exists()
    assert "Quitting the solver gracefully" in outcome.stdout


def test_year_override(small_study: Callable[..., Path]) -> None:
    study = small_study(nbyears=2)
    outcome = run_inprocess(["-y", "3", str(study)])
    assert "MC-Years : [1 .. 3], total: 3" in outcome.stdout
    assert len(list((only_run(study) / "economy" / "mc-ind").iterdir())) == 3


def test_subprocess_module_entry_point_versions(tmp_path: Path) -> None:
    """`python -m winjobs.standin`, and a link named like a 9.2 binary poses as 9.2."""
    env = {**os.environ, **FAST}
    env.pop(VERSION_ENV, None)
    result = subprocess.run([*python_solver(), "-v"], capture_output=True, text=True,
                            env=env, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == "8.8.10 (revision )"
    script = Path(sys.executable).with_name("winjobs-standin-solver")
    if not script.exists():
        pytest.skip("console script not installed next to the interpreter")
    posed = tmp_path / "antares-9.2-solver"
    posed.symlink_to(script)
    result = subprocess.run([str(posed), "-v"], capture_output=True, text=True, env=env,
                            timeout=60, check=False)  # fmt: skip
    assert result.stdout.splitlines()[-1] == "9.2.0 (revision )"

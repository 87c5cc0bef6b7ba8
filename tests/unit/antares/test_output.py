"""Reading solver runs: run folders, the strict success check, progress, run info."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.real_outputs import run_folder
from winjobs.antares.output import (
    Progress,
    ZippedRun,
    check_run,
    find_run_folders,
    first_link,
    new_run_folder,
    parse_progress,
    read_run_file,
    read_run_info,
    run_files,
)

LOG = "[2026-11-25 08:24:14][solver][infos] "


def test_run_folders_and_the_new_one(tmp_path: Path) -> None:
    output = tmp_path / "output"
    for name in ("20261125-0824eco-first", "20261125-0824adq", "logs", "maps-eco"):
        (output / name).mkdir(parents=True)
    (output / "20261125-0830eco-zipped.zip").write_bytes(b"")
    (output / "notes.txt").write_text("x")
    names = [p.name for p in find_run_folders(tmp_path)]
    assert names == ["20261125-0824adq", "20261125-0824eco-first", "20261125-0830eco-zipped.zip"]
    before = set(names)
    assert new_run_folder(tmp_path, before) is None
    (output / "20261125-0824eco-first-2").mkdir()  # the solver's name on a clash
    (output / "20261125-0824eco-first-3").mkdir()
    new = new_run_folder(tmp_path, before)
    assert new is not None and new.name == "20261125-0824eco-first-3"
    assert find_run_folders(tmp_path / "nowhere") == []


@pytest.mark.shared_data
def test_real_successful_runs_pass(real_outputs: Path) -> None:
    for name in ("ntc-full", "ntc-part-1-3", "plc-part-2", "adq-full"):
        run = run_folder(real_outputs, name)
        info = read_run_info(run)
        check = check_run(
            run, exit_code=0, expected_years=info.years, year_by_year=True, log_text=""
        )
        assert check.ok and check.reason is None, (name, check)
        assert parse_progress((run / "simulation.log").read_text()) == Progress(
            len(info.years), len(info.years)
        )
    plc = read_run_info(run_folder(real_outputs, "plc-part-2"))
    assert (plc.years, plc.weights, plc.version, plc.mode) == ((2,), {2: 3.0}, "880", "Economy")
    assert plc.name == "plc-part-2" and plc.year_by_year and plc.synthesis


@pytest.mark.shared_data
def test_real_failures_are_recognised_with_their_reason(
    real_outputs: Path, shared_antares: Path
) -> None:
    failures = shared_antares / "real-outputs" / "failures"
    infeasible_out = (failures / "unfeasible-problem-01.stdout.txt").read_text()
    run = run_folder(real_outputs, "unfeasible-problem-01-output")
    years = list(range(12))
    check = check_run(
        run, exit_code=1, expected_years=years, year_by_year=False, log_text=infeasible_out
    )
    assert not check.ok
    assert check.reason == (
        "the solver exited with status 1: Year 3 has failed in the previous set of parallel year."
    )
    # exit 0 would not save it: the folder has no execution_info.ini
    check = check_run(run, exit_code=0, expected_years=years, year_by_year=False, log_text="")
    assert not check.ok and "no execution_info.ini" in (check.reason or "")
    # the coloured [fatal] line alone makes a failure, whatever the exit status
    check = check_run(
        run, exit_code=0, expected_years=years, year_by_year=False, log_text=infeasible_out
    )
    assert not check.ok and "Year 3 has failed" in (check.reason or "")
    assert parse_progress(infeasible_out) == Progress(2, 12)  # years 1 and 2 finished, 3 failed
    milp = (failures / "milp-accurate-uc.stdout.txt").read_text()
    check = check_run(None, exit_code=1, expected_years=[0], year_by_year=True, log_text=milp)
    assert check.reason == (
        "the solver exited with status 1: "
        "Unit Commitment mode 'milp' must be used with an OR-Tools solver"
    )


@pytest.mark.shared_data
def test_missing_years_zipped_runs_and_other_failures(real_outputs: Path, tmp_path: Path) -> None:
    run = run_folder(real_outputs, "ntc-part-1-3")
    check = check_run(run, exit_code=0, expected_years=[1, 2, 3], year_by_year=True, log_text="")
    assert check.reason == f"{run.name} lacks mc-ind years 00003"
    assert check_run(run, exit_code=0, expected_years=[2], year_by_year=False, log_text="").ok
    assert check_run(run, exit_code=42, expected_years=[], year_by_year=False, log_text="").reason
    assert (
        check_run(None, exit_code=0, expected_years=[1], year_by_year=False, log_text="").reason
        == "the solver wrote no run folder in the study's output/"
    )
    zipped = tmp_path / f"{run.name}.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for path in sorted(run.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(run).as_posix())
    assert check_run(zipped, exit_code=0, expected_years=[1, 3], year_by_year=True, log_text="").ok
    assert read_run_info(zipped).years == (1, 3)
    broken = tmp_path / "copy"
    shutil.copytree(run, broken)
    with (broken / "simulation.log").open("a") as log:
        log.write("[2026-11-25 08:24:10][solver][fatal] out of luck\n")
    check = check_run(broken, exit_code=0, expected_years=[1, 3], year_by_year=True, log_text="")
    assert check.reason == "the run's simulation.log has a fatal error: out of luck"


def _small_run(run: Path, years: list[int]) -> Path:
    """The few files the strict check reads, as the solver writes them."""
    files = {
        "execution_info.ini": "[study]\nperformed years = 1\n",
        "info.antares-output": "[general]\nversion = 880\nname = t\nmode = Economy\n",
        "about-the-study/parameters.ini": (
            "[general]\nnbyears = 10\nyear-by-year = true\nuser-playlist = true\n\n"
            "[playlist]\nplaylist_reset = false\n"
            + "".join(f"playlist_year + = {year}\n" for year in years)
        ),
        "simulation.log": f"{LOG}Exporting the survey results\n",
    }
    files |= {f"economy/mc-ind/{year + 1:05d}/areas/a/values-annual.txt": "1" for year in years}
    for name, text in files.items():
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text(text)
    return run


@pytest.mark.parametrize("top_folder", [True, False])
def test_a_zipped_run_is_checked_without_unpacking(tmp_path: Path, top_folder: bool) -> None:
    """An open zip holding the run under its own top folder (a worker's upload) or at its
    root (the solver's `-z`) reads like the folder."""
    run = _small_run(tmp_path / "20261125-0824eco-t", [2, 5])
    zipped = tmp_path / "run.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for path in sorted(run.rglob("*")):
            if path.is_file():
                inside = path.relative_to(run.parent if top_folder else run).as_posix()
                zf.write(path, inside)
    with zipfile.ZipFile(zipped) as zf:
        packed = ZippedRun(zf, "upload")
        assert packed.name == (run.name if top_folder else "upload")
        assert read_run_info(packed).years == read_run_info(run).years == (2, 5)
        ok = check_run(packed, exit_code=0, expected_years=[2, 5], year_by_year=True, log_text="")
        assert ok.ok, ok.reason
        check = check_run(
            packed, exit_code=0, expected_years=[2, 5, 6], year_by_year=True, log_text=""
        )
        assert check.reason == f"{packed.name} lacks mc-ind years 00007"
        assert packed.read("nothing/here.txt") is None


def test_progress_from_partial_logs() -> None:
    start = f"{LOG}MC-Years : [1 .. 10], total: 4\n"
    assert parse_progress("") == Progress(0, None)
    assert parse_progress(start) == Progress(0, 4)
    by_year = start + f"{LOG}Year(s) 1 2 \n" + f"{LOG}Exporting the annual results\n"
    assert parse_progress(by_year) == Progress(1, 4)
    batches = (
        start
        + f"{LOG}parallel batch size : 2 (2 perfomed)\n{LOG}Year(s) 1 2 \n"
        + f"{LOG}parallel batch size : 2 (2 perfomed)\n{LOG}Year(s) 5 9 \n"
    )
    assert parse_progress(batches) == Progress(2, 4)  # the second batch is still running
    done = batches + "[2026-11-25 08:24:14][solver][check] Exporting the survey results...\n"
    assert parse_progress(done) == Progress(4, 4)
    coloured = start.replace("[infos]", "\x1b[0;32m[infos]\x1b[0m") + f"{LOG}Year(s) 3 \n"
    assert parse_progress(coloured) == Progress(0, 4)
    assert parse_progress("Year(s) 1 2\nExporting the annual results\n") == Progress(0, None)


def test_a_run_folder_s_files_are_rglob_s_files(tmp_path: Path) -> None:
    """Listed from the directory entries' types, not a stat per file: the same files as
    `rglob` finds, links to files counted, links to folders not followed."""
    run = tmp_path / "20261125-0824eco-x"
    (run / "economy" / "mc-ind" / "00001").mkdir(parents=True)
    (run / "economy" / "mc-ind" / "00001" / "values-hourly.txt").write_text("v")
    (run / "info.antares-output").write_text("[general]\n")
    (run / "empty-folder").mkdir()
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "inside").mkdir(parents=True)
    (elsewhere / "inside" / "file.txt").write_text("x")
    (run / "link-to-file.txt").symlink_to(elsewhere / "inside" / "file.txt")
    (run / "link-to-folder").symlink_to(elsewhere / "inside", target_is_directory=True)
    (run / "broken-link").symlink_to(tmp_path / "missing")
    by_rglob = {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()}
    assert (
        run_files(run)
        == by_rglob
        == {
            "economy/mc-ind/00001/values-hourly.txt",
            "info.antares-output",
            "link-to-file.txt",
        }
    )


def test_reading_a_run_file_that_is_absent_or_a_folder_gives_none(tmp_path: Path) -> None:
    run = tmp_path / "20261125-0824eco-x"
    (run / "about-the-study").mkdir(parents=True)
    (run / "execution_info.ini").mkdir()
    (run / "about-the-study" / "parameters.ini").write_bytes(b"[general]\n")
    assert read_run_file(run, "about-the-study/parameters.ini") == b"[general]\n"
    assert read_run_file(run, "execution_info.ini") is None
    assert read_run_file(run, "simulation.log") is None
    assert read_run_file(run, "about-the-study/parameters.ini/below") is None


def test_first_link_finds_a_link_at_any_depth(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "economy" / "mc-all" / "areas" / "a").mkdir(parents=True)
    (run / "economy" / "mc-all" / "areas" / "a" / "values-hourly.txt").write_text("x")
    assert first_link(run) is None
    (run / "economy" / "mc-all" / "areas" / "a" / "id-hourly.txt").symlink_to(tmp_path)
    assert first_link(run) == "economy/mc-all/areas/a/id-hourly.txt"
    (run / "economy" / "mc-all" / "areas" / "a" / "id-hourly.txt").unlink()
    (run / "economy" / "mc-ind").symlink_to(tmp_path, target_is_directory=True)
    assert first_link(run) == "economy/mc-ind"  # reported, never walked into


class _Entry:
    """A directory entry as Windows lists it: a junction is no symlink to Python 3.11,
    only a reparse point in the file attributes."""

    def __init__(self, name: str, attributes: int, folder: bool) -> None:
        self.name, self.path, self._attributes, self._folder = name, name, attributes, folder

    def is_symlink(self) -> bool:
        return False

    def is_dir(self, follow_symlinks: bool = True) -> bool:
        return self._folder

    def stat(self, follow_symlinks: bool = True) -> object:
        return types.SimpleNamespace(st_file_attributes=self._attributes)


def test_on_windows_a_junction_is_a_link(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    listing = [
        _Entry("simulation.log", stat.FILE_ATTRIBUTE_ARCHIVE, folder=False),
        _Entry("economy", stat.FILE_ATTRIBUTE_DIRECTORY | stat.FILE_ATTRIBUTE_REPARSE_POINT, True),
    ]

    @contextlib.contextmanager
    def scandir(path: str) -> Iterator[list[_Entry]]:
        yield listing if path == str(tmp_path) else []

    monkeypatch.setattr(os, "scandir", scandir)  # what first_link lists with
    assert first_link(tmp_path, windows=True) == "economy"
    assert first_link(tmp_path, windows=False) is None  # elsewhere the attribute is unknown

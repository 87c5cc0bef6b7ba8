"""Merging partial runs: golden merges of real 8.8 runs, refusals, per-year gathering."""

from __future__ import annotations

import re
import shutil
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers.output_compare import compare_runs
from tests.helpers.real_outputs import run_folder
from winjobs.antares import merge
from winjobs.antares.archive import pack_folder
from winjobs.antares.merge import McIndMode, merge_runs
from winjobs.antares.output import check_run, read_run_info
from winjobs.errors import MergeError

pytestmark = pytest.mark.shared_data


def study_as_run(shared: Path, study: str, run: str, dest: Path) -> Path:
    """A copy of a shared study with the settings a real run was made with."""
    copy = dest / study
    if not copy.exists():
        shutil.copytree(shared / "studies" / study, copy)
        shutil.copy(
            shared / "real-outputs" / f"{run}.generaldata.ini", copy / "settings/generaldata.ini"
        )
    return copy


@pytest.fixture(scope="module")
def ntc(
    shared_antares: Path, real_outputs: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("ntc")
    study = study_as_run(shared_antares, "multiple-ntc-sc-builder", "ntc-full", work)
    parts = [run_folder(real_outputs, n) for n in ("ntc-part-1-3", "ntc-part-0-2-4")]
    out = work / "output" / "20261125-0900eco-merged"
    report = merge_runs(study, parts, out)
    assert report.years == (0, 1, 2, 3, 4) and report.mc_ind_years == 5 and not report.warnings
    assert report.tables == 55 and report.bytes_read > 10_000_000
    return {"study": study, "out": out, "full": run_folder(real_outputs, "ntc-full")}


def test_ntc_partial_runs_merge_into_the_full_run(ntc: dict[str, Path], real_outputs: Path) -> None:
    parts = [run_folder(real_outputs, n) for n in ("ntc-part-0-2-4", "ntc-part-1-3")]
    assert compare_runs(ntc["full"], ntc["out"], partials=parts) == []
    out, full = ntc["out"], ntc["full"]
    for name in (
        "annualSystemCost.txt",
        "economy/mc-all/grid/digest.txt",
        "ts-numbers/load/source.txt",
    ):
        assert (out / name).read_bytes() == (full / name).read_bytes(), name
    assert (out / "about-the-study/parameters.ini").read_bytes() == (
        ntc["study"] / "settings/generaldata.ini"
    ).read_bytes()
    info = read_run_info(out)
    assert (info.name, info.years, info.version) == ("merged", (0, 1, 2, 3, 4), "880")
    assert check_run(out, exit_code=0, expected_years=range(5), year_by_year=True, log_text="").ok
    log = (out / "simulation.log").read_text()
    assert log.count("Quitting the solver gracefully") == 2
    assert "partial run 1/2: 20261125-0824eco-ntc-part-0-2-4 (MC years 1, 3, 5)" in log
    execution = (out / "execution_info.ini").read_text()
    assert "performed years = 5" in execution
    assert sorted(p.name for p in (out / "optimization/week-by-week").iterdir()) == [
        f"year_{y}.txt" for y in range(5)
    ]


@pytest.mark.parametrize("how", ["move", "link"])
def test_zipped_partial_runs_merge_like_their_folders(
    ntc: dict[str, Path], real_outputs: Path, tmp_path: Path, how: McIndMode
) -> None:
    """Runs kept zipped (under their folder's name, or the solver's `-z` zip with the
    content at the root) are read where they are: the same merged output, byte for byte,
    whatever `mc_ind` (their years are extracted), and the zips are left as they were."""
    folders = [run_folder(real_outputs, n) for n in ("ntc-part-1-3", "ntc-part-0-2-4")]
    zipped = [
        pack_folder(folders[0], tmp_path / "a.zip", arcname_root=folders[0].name).path,
        pack_folder(folders[1], tmp_path / f"{folders[1].name}.zip").path,
    ]
    before = [z.read_bytes() for z in zipped]
    out = tmp_path / "output" / ntc["out"].name
    report = merge_runs(ntc["study"], zipped, out, mc_ind=how)
    assert report.mc_ind_years == 5 and report.runs == tuple(sorted(zipped))
    assert _tree(out) == _tree(ntc["out"])
    assert not any(p.is_symlink() for p in out.rglob("*"))
    assert [z.read_bytes() for z in zipped] == before


@pytest.mark.parametrize("held", [merge.HELD_OPEN_RUNS, 1])
def test_zipped_runs_are_opened_once_up_to_the_held_limit(
    ntc: dict[str, Path],
    real_outputs: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    held: int,
) -> None:
    """Every opening of a zip parses its whole directory again: the merge keeps the
    first HELD_OPEN_RUNS runs open throughout (read at most twice: once when listed, once
    held), and opens any others for each read, with the same output either way."""
    folders = [run_folder(real_outputs, n) for n in ("ntc-part-1-3", "ntc-part-0-2-4")]
    zipped = [
        pack_folder(folder, tmp_path / f"{folder.name}.zip", arcname_root=folder.name).path
        for folder in folders
    ]
    opened: Counter[str] = Counter()
    real_zipfile = zipfile.ZipFile

    class CountingZipFile(real_zipfile):
        def __init__(self, file: object, *args: object, **kwargs: object) -> None:
            if isinstance(file, Path):
                opened[file.name] += 1
            super().__init__(file, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(zipfile, "ZipFile", CountingZipFile)
    monkeypatch.setattr(merge, "HELD_OPEN_RUNS", held)
    out = tmp_path / "output" / ntc["out"].name
    merge_runs(ntc["study"], zipped, out, mc_ind="move")
    assert _tree(out) == _tree(ntc["out"])
    first, second = (opened[z.name] for z in sorted(zipped))
    assert first <= 2
    assert second <= 2 if held > 1 else second > 10


def _tree(root: Path) -> dict[str, bytes]:
    """Every file's bytes; the merge's own log lines without their time stamps."""
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    files["simulation.log"] = re.sub(
        rb"^\[[^]]*\]\[winjobs\]", b"", files["simulation.log"], flags=re.M
    )
    return files


def test_weighted_plc_runs_merge_into_the_full_run(
    shared_antares: Path, real_outputs: Path, tmp_path: Path
) -> None:
    study = study_as_run(shared_antares, "playlist-1-cold", "plc-full", tmp_path)
    parts = [run_folder(real_outputs, n) for n in ("plc-part-2", "plc-part-1")]
    out = tmp_path / "merged"
    report = merge_runs(study, parts, out, mc_ind="link")
    assert report.years == (1, 2) and not report.warnings
    assert compare_runs(run_folder(real_outputs, "plc-full"), out, partials=parts) == []
    linked = out / "economy/mc-ind/00002"
    assert linked.is_symlink() and linked.resolve() == (parts[1] / "economy/mc-ind/00002").resolve()


def test_hot_start_runs_do_not_reproduce_a_single_run(
    shared_antares: Path, real_outputs: Path, tmp_path: Path
) -> None:
    """playlist-1 (hydro hot start): year 3 starts from year 2's final reservoir levels in
    a single run, but from the initial levels when run alone; the merge says so."""
    study = study_as_run(shared_antares, "playlist-1", "pl1-full", tmp_path)
    parts = [run_folder(real_outputs, n) for n in ("pl1-part-1", "pl1-part-2")]
    report = merge_runs(study, parts, tmp_path / "merged")
    assert any("hot start" in w for w in report.warnings)
    problems = compare_runs(
        run_folder(real_outputs, "pl1-full"), tmp_path / "merged", partials=parts
    )
    assert len(problems) > 100
    assert any("mc-ind/00003" in p for p in problems)  # the chained year itself differs
    assert any("H. STOR" in p or "H. COST" in p for p in problems)


def test_merge_without_year_by_year_output(
    shared_antares: Path, real_outputs: Path, tmp_path: Path
) -> None:
    study = study_as_run(shared_antares, "multiple-ntc-sc-builder", "ntc-full", tmp_path)
    _set_year_by_year(study / "settings/generaldata.ini")
    parts = []
    for name in ("ntc-part-0-2-4", "ntc-part-1-3"):
        copy = tmp_path / name
        shutil.copytree(run_folder(real_outputs, name), copy)
        shutil.rmtree(copy / "economy/mc-ind")
        _set_year_by_year(copy / "about-the-study/parameters.ini")
        parts.append(copy)
    report = merge_runs(study, parts, tmp_path / "merged")
    assert report.mc_ind_years == 0
    full = run_folder(real_outputs, "ntc-full")
    assert compare_runs(full, tmp_path / "merged", partials=parts, mc_ind_identical=False) == []
    assert not (tmp_path / "merged/economy/mc-ind").exists()


def _set_year_by_year(path: Path) -> None:
    path.write_text(path.read_text().replace("year-by-year = true", "year-by-year = false"))


@pytest.fixture
def ntc_parts(real_outputs: Path, tmp_path: Path) -> list[Path]:
    """Writable copies of the two ntc partial runs."""
    copies = []
    for name in ("ntc-part-0-2-4", "ntc-part-1-3"):
        copy = tmp_path / "runs" / name
        shutil.copytree(run_folder(real_outputs, name), copy, symlinks=True)
        copies.append(copy)
    return copies


def test_move_takes_the_years_out_of_the_partial_runs(
    ntc: dict[str, Path], ntc_parts: list[Path], tmp_path: Path
) -> None:
    merge_runs(ntc["study"], ntc_parts, tmp_path / "moved", mc_ind="move")
    assert not (ntc_parts[0] / "economy/mc-ind").exists() or not any(
        (ntc_parts[0] / "economy/mc-ind").iterdir()
    )
    assert (tmp_path / "moved/economy/mc-ind/00005/areas/source/values-hourly.txt").is_file()


def test_a_failed_move_puts_the_years_back(
    ntc: dict[str, Path], ntc_parts: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import winjobs.antares.merge_steps as steps

    real_place = steps.place
    calls = []

    def failing_place(source: Path, target: Path, how: steps.McIndMode) -> None:
        calls.append(source)
        if len(calls) == 3:
            raise OSError("disk full")
        real_place(source, target, how)

    monkeypatch.setattr(steps, "place", failing_place)
    with pytest.raises(OSError, match="disk full"):
        merge_runs(ntc["study"], ntc_parts, tmp_path / "moved", mc_ind="move")
    assert not (tmp_path / "moved").exists()
    assert not list(tmp_path.glob(".moved*"))
    for year in ("00001", "00003"):
        assert (ntc_parts[0] / "economy/mc-ind" / year / "areas/source/values-daily.txt").is_file()


def test_symlink_failure_says_what_to_do(
    ntc: dict[str, Path], ntc_parts: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_privilege(self: Path, target: Path, target_is_directory: bool = False) -> None:
        raise OSError(1314, "A required privilege is not held by the client")

    monkeypatch.setattr(Path, "symlink_to", no_privilege)
    with pytest.raises(MergeError, match=r"Developer Mode.*--mc-ind copy"):
        merge_runs(ntc["study"], ntc_parts, tmp_path / "linked", mc_ind="link")
    assert not (tmp_path / "linked").exists()


def test_refusals(
    ntc: dict[str, Path],
    ntc_parts: list[Path],
    shared_antares: Path,
    real_outputs: Path,
    tmp_path: Path,
) -> None:
    study, out = ntc["study"], tmp_path / "out"
    first, second = ntc_parts
    cases: list[tuple[list[Path], str]] = [
        ([], "no partial run"),
        ([first, first], "MC year 1 is in two partial runs"),
        ([second], r"MC years 1, 3, 5 are in no partial run"),
        ([first, run_folder(real_outputs, "plc-part-1")], "other settings than"),
        ([first, tmp_path / "nowhere"], "is missing"),
    ]
    for runs, message in cases:
        with pytest.raises(MergeError, match=message):
            merge_runs(study, runs, out)
    failed = tmp_path / "failed"
    shutil.copytree(second, failed)
    (failed / "execution_info.ini").unlink()
    with pytest.raises(MergeError, match="did not finish"):
        merge_runs(study, [first, failed], out)
    info = second / "info.antares-output"
    info.write_text(info.read_text().replace("version = 880", "version = 920"))
    with pytest.raises(MergeError, match="different solver versions"):
        merge_runs(study, [first, second], out)
    info.write_text(info.read_text().replace("version = 920", "version = 880"))
    areas = second / "about-the-study/areas.txt"
    original_areas = areas.read_bytes()
    areas.write_text("Elsewhere\n")
    with pytest.raises(MergeError, match="runs of different studies"):
        merge_runs(study, [first, second], out)
    areas.write_bytes(original_areas)
    zipped = tmp_path / "run.zip"
    zipped.write_bytes(b"PK")  # a damaged zipped run
    with pytest.raises(MergeError, match=r"run\.zip cannot be read: .* not a readable zip"):
        merge_runs(study, [first, zipped], out)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(MergeError, match="not empty"):
        merge_runs(study, ntc_parts, out)
    assert (out / "keep.txt").read_text() == "mine"
    with pytest.raises(MergeError, match="cannot be read"):
        merge_runs(tmp_path / "no-study", ntc_parts, tmp_path / "other")

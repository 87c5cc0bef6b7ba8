"""The stand-in's run folder against a real Antares 8.8.10 run of the same study.

The real `ntc-full` run (multiple-ntc-sc-builder, 5 years, year-by-year) is the golden
layout: same folder and file names, same header lines (every column's caption, unit and
statistic), same index columns. (tests/differential/ compares with fresh real runs of
every shared study and of variants of their settings.)
The progress lines of the log must match the real ones line for line, also for the
partial runs restricted by a playlist.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.unit.standin.conftest import copy_study, only_run, run_inprocess

pytestmark = pytest.mark.shared_data

STUDY = "multiple-ntc-sc-builder"
_PROGRESS = re.compile(
    r"MC-Years|parallel batch size|Year\(s\)|playlist: ignoring|Exporting the annual results"
    r"|Exporting results|Exporting the survey results|Quitting the solver gracefully"
    r"|Solver MPS File|Solver Criterion File"
)


def _real_run(shared: Path, name: str, tmp_path: Path) -> Path:
    with zipfile.ZipFile(shared / "real-outputs" / f"{name}.zip") as archive:
        archive.extractall(tmp_path / f"real-{name}")
    (run,) = (tmp_path / f"real-{name}").iterdir()
    return run


def _standin_run(shared: Path, name: str, tmp_path: Path, study_name: str = STUDY) -> Path:
    study = copy_study(shared / "studies" / study_name, tmp_path / name)
    shutil.copyfile(
        shared / "real-outputs" / f"{name}.generaldata.ini",
        study / "settings" / "generaldata.ini",
    )
    outcome = run_inprocess(["-n", name, str(study)])
    assert outcome.status == 0, outcome.stdout[-2000:]
    return only_run(study)


def _paths(run: Path) -> set[str]:
    return {p.relative_to(run).as_posix() for p in run.rglob("*")}


@pytest.fixture(scope="module")
def runs(shared_antares: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("ntc")
    return _standin_run(shared_antares, "ntc-full", tmp), _real_run(shared_antares, "ntc-full", tmp)


def test_same_files_and_folders(runs: tuple[Path, Path]) -> None:
    mine, real = runs
    assert mine.name[len("20261125-0824") :] == real.name[len("20261125-0824") :]
    assert _paths(mine) - _paths(real) == set()
    assert _paths(real) - _paths(mine) == set()


def test_about_the_study_and_info(runs: tuple[Path, Path]) -> None:
    mine, real = runs
    for name in ("parameters.ini", "areas.txt", "links.txt", "comments.txt"):
        assert (mine / "about-the-study" / name).read_bytes() == (
            real / "about-the-study" / name
        ).read_bytes(), name
    strip = re.compile(r"^(lastsave|timestamp|date|title) = .*$", re.MULTILINE)
    for name in ("about-the-study/study.ini", "info.antares-output"):
        assert strip.sub("", (mine / name).read_text()) == strip.sub("", (real / name).read_text())


def test_once_per_run_files_have_the_real_shape(runs: tuple[Path, Path]) -> None:
    mine, real = runs
    cost = re.compile(r"^(EXP|STD|MIN|MAX) : -?\d+(\.\d+)?(e[+-]\d+)?$")
    lines = (mine / "annualSystemCost.txt").read_text().splitlines()
    assert [line[:3] for line in lines] == ["EXP", "STD", "MIN", "MAX"]
    assert all(cost.match(line) for line in lines)
    integrity = (mine / "checkIntegrity.txt").read_text().splitlines()
    assert len(integrity) == 8
    assert all(re.fullmatch(r"-?\d\.\d{14}e[+-]\d\d", line) for line in integrity)
    for name in ("execution_info.ini",):
        sections = re.compile(r"^\[.*\]$", re.MULTILINE)
        assert sections.findall((mine / name).read_text()) == sections.findall(
            (real / name).read_text()
        )
    for ts in (real / "ts-numbers").rglob("*.txt"):
        relative = ts.relative_to(real)
        assert (mine / relative).read_text().splitlines()[0] == ts.read_text().splitlines()[0]
    week_file = "optimization/week-by-week/year_0.txt"
    assert len((mine / week_file).read_text().splitlines()) == len(
        (real / week_file).read_text().splitlines()
    )


def _header_and_index(path: Path) -> tuple[list[list[str]], list[str]]:
    lines = path.read_text().split("\n")
    head = [line.split("\t") for line in lines[:7]]
    n_index = {"hourly": 4, "daily": 3, "weekly": 1, "monthly": 2, "annual": 1}[head[0][3]]
    index = ["\t".join(line.split("\t")[: 1 + n_index]) for line in lines[7:] if line]
    return head, index


def _columns(head: list[list[str]]) -> list[tuple[str, str, str]]:
    n_index = {"hourly": 4, "daily": 3, "weekly": 1, "monthly": 2, "annual": 1}[head[0][3]]
    return list(zip(*(row[1 + n_index :] for row in head[4:7]), strict=True))


def test_values_files_match_real_headers_and_index(runs: tuple[Path, Path]) -> None:
    mine, real = runs
    tables = sorted(p for p in mine.rglob("*.txt") if re.match(r"(values|id|details)-", p.name))
    assert len(tables) == 205  # 5 years x 6 files x 5 periods + mc-all (11 files x 5)
    for path in tables:  # the header lines, the index and the columns of the real files
        relative = path.relative_to(mine)
        my_head, my_index = _header_and_index(path)
        real_head, real_index = _header_and_index(real / relative)
        assert my_head[0] == real_head[0], relative  # name, level, kind, period
        assert my_head[1] == real_head[1], relative  # link's other end
        assert my_head[2][2:] == real_head[2][2:], relative  # BEGIN, END
        assert my_head[3] == real_head[3] == [""], relative
        assert my_index == real_index, relative
        assert _columns(my_head) == _columns(real_head), relative
        assert my_head[2] == real_head[2], relative


def _progress(log: str) -> list[str]:
    lines = [line.split("]", 3)[-1].strip() for line in log.splitlines() if _PROGRESS.search(line)]
    return lines


#: Every golden run and the study it was made from.
GOLDEN_RUNS = {
    "ntc-full": STUDY,
    "ntc-part-0-2-4": STUDY,
    "ntc-part-1-3": STUDY,
    "plc-full": "playlist-1-cold",
    "plc-part-1": "playlist-1-cold",
    "plc-part-2": "playlist-1-cold",
    "pl1-full": "playlist-1",
    "pl1-part-1": "playlist-1",
    "pl1-part-2": "playlist-1",
    "adq-full": "power-fluctuations-adequacy-v800",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GOLDEN_RUNS))
def test_same_files_and_progress_lines_as_every_golden_run(
    name: str, shared_antares: Path, tmp_path: Path
) -> None:
    """Every real run, redone by the stand-in with the same generaldata.ini: the same
    relative paths (districts, ts-numbers, MPS exports, week-by-week files of the played
    years...) and the same progress lines (batches, skipped years, exports), line for line."""
    mine = _standin_run(shared_antares, name, tmp_path, GOLDEN_RUNS[name])
    real = _real_run(shared_antares, name, tmp_path)
    assert _paths(mine) == _paths(real)
    assert _progress((mine / "simulation.log").read_text()) == _progress(
        (real / "simulation.log").read_text()
    )


def test_digest_has_the_real_shape(runs: tuple[Path, Path]) -> None:
    """Same blocks, variables, row names and link matrices (FLOW LIN. and FLOW QUAD.,
    `X`, `--` and flows at the same places); only the numbers differ."""
    mine, real = (run / "economy" / "mc-all" / "grid" / "digest.txt" for run in runs)
    mine_lines = mine.read_text().split("\n")
    real_lines = real.read_text().split("\n")
    assert len(mine_lines) == len(real_lines)
    for line, other in zip(mine_lines, real_lines, strict=True):
        fields, real_fields = line.split("\t"), other.split("\t")
        assert len(fields) == len(real_fields), other

        def shape(cells: list[str]) -> list[str]:
            return [c if c in ("X", "--", "N/A") or not _numeric(c) else "n" for c in cells]

        assert shape(fields) == shape(real_fields), other


def _numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True

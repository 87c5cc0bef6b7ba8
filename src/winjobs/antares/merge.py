"""Merge K partial runs of one study (disjoint year sets) into ONE run folder that looks
like a single run of all those years (docs/merging.md).

A partial run is a run folder or a zipped run (`<run>.zip`, what the solver writes with
`result-format = zip`: the run folder or its content inside), read where it is: its
mc-ind years are extracted into the output (whatever `mc_ind`); the first
`HELD_OPEN_RUNS` zips stay open while the merge lasts, the others only for each read.
With `zipped=True` OUT is written as a zipped run, like a single run of a
`result-format = zip` study.

- mc-all: pooled from the partial mc-all tables (`merge_tables`): needs no year-by-year
  output, so it scales to studies of thousands of years;
- mc-ind years and `optimization/week-by-week/year_<n>.txt`: gathered by moving, copying
  or symbolically linking them (`mc_ind`);
- summaries pooled and metadata synthesised (`merge_files`); `about-the-study/
  parameters.ini` is the ORIGINAL study's `settings/generaldata.ini`;
- every other file (ts-numbers, grid/areas.txt..., about-the-study/*) is the same on every
  worker and copied once; the run-specific timing files (`optimization/*-durations.txt`)
  and `about-the-study/study.ini` (its `lastsave`) come from the first run.

The result is built in a hidden sibling folder and renamed (or zipped) into place at the
end, so a failed merge leaves no half-written OUT; with `mc_ind="move"` the moved year
folders are put back if the merge fails after moving them.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from winjobs.antares.archive import pack_folder
from winjobs.antares.digest import district_captions
from winjobs.antares.ini import IniDocument
from winjobs.antares.merge_steps import (
    WRITTEN_FILES,
    McIndMode,
    MergeReport,
    PartialRun,
    gather_years,
    write_mc_all,
    write_once_files,
)
from winjobs.antares.output import (
    RUN_NAME,
    Run,
    ZippedRun,
    read_run_file,
    read_run_info,
    read_run_ini,
    run_files,
    year_folders,
)
from winjobs.antares.study import Study, open_study
from winjobs.errors import ArchiveError, MergeError, OutputError, StudyError

__all__ = ["McIndMode", "MergeReport", "merge_runs"]

#: zipped partial runs kept open during a merge (each open file is a handle of the
#: merging process: the driver's assembly process, or `winjobs merge`)
HELD_OPEN_RUNS = 128


def merge_runs(
    study_dir: Path,
    run_dirs: Sequence[Path],
    out_dir: Path,
    *,
    mc_ind: McIndMode = "copy",
    name: str | None = None,
    zipped: bool = False,
) -> MergeReport:
    """Merge `run_dirs` (partial runs of the study at `study_dir`, folders or zipped runs)
    into `out_dir` (a folder, or with `zipped` a zipped run)."""
    if mc_ind not in ("move", "copy", "link"):
        raise MergeError(f"mc_ind must be move, copy or link, not {mc_ind!r}")
    study = _open(study_dir)
    out_dir = Path(out_dir)
    if out_dir.exists() and (zipped or not out_dir.is_dir() or any(out_dir.iterdir())):
        raise MergeError(f"{out_dir} already exists and is not empty: choose a new folder")
    if zipped and out_dir.suffix != ".zip":
        raise MergeError(f"a zipped run is named <run>.zip, not {out_dir.name}")
    staging = out_dir.parent / f".{out_dir.name}.merging"
    if staging.exists():
        shutil.rmtree(staging)
    runs = _check_runs(study, [Path(r) for r in run_dirs])
    moved: list[tuple[Path, Path]] = []
    try:
        staging.mkdir(parents=True)
        report = MergeReport(out_dir, tuple(study.years), tuple(r.path for r in runs))
        if study.hot_start:
            report.warnings.append(
                "the study uses hydro hot start: each year depends on the previous one, so "
                "the merged result differs from a single run of all years"
            )
        mode = study.mode_folder
        with _held_open(runs):
            write_mc_all(runs, staging, mode, report, district_captions(study.path))
            write_once_files(study, runs, staging, report, _run_name(out_dir, name))
            gather_years(runs, staging, mode, mc_ind, report, moved)
        _publish(staging, out_dir, zipped)
    except BaseException:
        for source, target in reversed(moved):
            if target.exists() and not source.exists():
                shutil.move(str(target), str(source))
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


@contextlib.contextmanager
def _held_open(runs: Sequence[PartialRun]) -> Iterator[None]:
    """The first `HELD_OPEN_RUNS` zipped runs kept open for the whole merge (it reads
    each table of every run in turn); the others are opened for each read, so that a job
    of a thousand one-year tasks stays far from the open-files limit."""
    with contextlib.ExitStack() as held:
        for run in runs[:HELD_OPEN_RUNS]:
            if isinstance(run.source, ZippedRun):
                held.enter_context(run.source.held_open())
        yield


def _publish(staging: Path, out_dir: Path, zipped: bool) -> None:
    """The finished merge into place: renamed, or zipped (entries relative to the run)."""
    if zipped:
        try:
            pack_folder(staging, out_dir)
        except ArchiveError as exc:
            raise MergeError(f"cannot write the zipped run {out_dir}: {exc}") from None
        shutil.rmtree(staging)
        return
    if out_dir.exists():
        out_dir.rmdir()
    staging.rename(out_dir)


def _run_name(out_dir: Path, name: str | None) -> str:
    if name is not None:
        return name
    match = RUN_NAME.fullmatch(out_dir.name)
    return (match.group("name") or "") if match else out_dir.name


def _open(study_dir: Path) -> Study:
    try:
        return open_study(Path(study_dir))
    except StudyError as exc:
        raise MergeError(f"the study {study_dir} cannot be read: {exc}") from None


def _settings_without_playlist(doc: IniDocument) -> list[tuple[str, str, str]]:
    return [
        (section.lower(), key.lower(), value.strip())
        for section, key, value in doc.entries()
        if section.lower() != "playlist"
        and not (section.lower() == "general" and key.lower() == "user-playlist")
    ]


def _check_runs(study: Study, run_dirs: list[Path]) -> list[PartialRun]:
    if not run_dirs:
        raise MergeError("no partial run to merge")
    if study.split_blocker is not None and len(run_dirs) > 1:
        raise MergeError(
            f"{study.path} cannot be merged from {len(run_dirs)} partial runs: "
            f"{study.split_blocker}"
        )
    original = _settings_without_playlist(IniDocument.read(study.path / "settings/generaldata.ini"))
    runs: list[PartialRun] = []
    owner: dict[int, Path] = {}
    for path in run_dirs:
        source = _source(path)
        files = frozenset(run_files(source))
        if "execution_info.ini" not in files:
            raise MergeError(
                f"partial run {path.name} did not finish (no execution_info.ini): rerun its years"
            )
        try:
            params = read_run_ini(source, "about-the-study/parameters.ini")
            info = read_run_info(source, params)
        except OutputError as exc:
            raise MergeError(f"partial run {path.name} cannot be read: {exc}") from None
        if _settings_without_playlist(params) != original:
            raise MergeError(
                f"partial run {path.name} was made with other settings than {study.path} "
                "(a different study, or its settings changed since)"
            )
        for year in info.years:
            if year in owner:
                raise MergeError(
                    f"MC year {year + 1} is in two partial runs: {owner[year].name} and {path.name}"
                )
            if year not in study.weights:
                raise MergeError(
                    f"partial run {path.name} played year {year + 1}, not in the study"
                )
            if info.weights[year] != study.weights[year]:
                raise MergeError(
                    f"partial run {path.name} gave year {year + 1} the weight "
                    f"{info.weights[year]}, the study {study.weights[year]}"
                )
            owner[year] = path
        runs.append(PartialRun(path, info, files, source))
    versions = sorted({r.info.version for r in runs})
    if len(versions) > 1:
        raise MergeError(f"the partial runs come from different solver versions: {versions}")
    missing = [y + 1 for y in study.years if y not in owner]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise MergeError(f"MC years {shown} are in no partial run: a partial run is missing")
    _check_year_by_year(runs)
    _check_same_study_files(runs)
    return sorted(runs, key=lambda r: min(r.info.years))


def _check_year_by_year(runs: list[PartialRun]) -> None:
    """Each run holds the mc-ind folders of all its years or of none (output filters may
    leave nothing to write per year: then every run holds none)."""
    holding: dict[bool, str] = {}
    for run in runs:
        present = year_folders(run.files)
        lacking = [y + 1 for y in run.info.years if y not in present]
        if present and lacking:
            raise MergeError(
                f"partial run {run.name} lacks the year-by-year output of MC years "
                f"{', '.join(map(str, lacking))}"
            )
        holding.setdefault(bool(present), run.name)
    if len(holding) > 1:
        raise MergeError(
            f"partial run {holding[True]} has year-by-year output and {holding[False]} has "
            "none: runs of different settings or filters"
        )


def _check_same_study_files(runs: list[PartialRun]) -> None:
    first = runs[0]
    for name in _STUDY_FILES:
        reference = read_run_file(first.source, name)
        for other in runs[1:]:
            if read_run_file(other.source, name) != reference:
                raise MergeError(
                    f"{first.name} and {other.name} differ in {name}: runs of different studies"
                )


#: files that tell which study a run is of
_STUDY_FILES = ("about-the-study/areas.txt", "about-the-study/links.txt")


def _source(path: Path) -> Run:
    """A run folder as it is, or a zipped run with the small files every merge reads."""
    if path.is_dir():
        return path
    if not path.is_file():
        raise MergeError(f"partial run {path} is missing")
    try:
        return ZippedRun.at(path, preload=(*WRITTEN_FILES, *_STUDY_FILES))
    except OutputError as exc:
        raise MergeError(f"partial run {path.name} cannot be read: {exc}") from None

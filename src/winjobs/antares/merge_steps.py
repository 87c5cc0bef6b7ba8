"""The steps of a merge (see `winjobs.antares.merge`): mc-all tables, once-per-run files,
and the gathering of per-year outputs."""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

import numpy as np

from winjobs.antares.digest import DigestRow, first_statistic_row, rebuild_digest
from winjobs.antares.merge_files import (
    concatenated_log,
    merged_info,
    pool_annual_system_cost,
    pool_check_integrity,
    sum_execution_info,
)
from winjobs.antares.merge_tables import RunWeight, merge_table
from winjobs.antares.output import Run, RunInfo, ZippedRun, read_run_file
from winjobs.antares.study import Study
from winjobs.antares.values import OutputTable, read_table
from winjobs.errors import MergeError

McIndMode = Literal["move", "copy", "link"]

_TABLE = re.compile(
    r"(?P<dir>.+)/(?P<kind>values|details|details-res|details-STstorage|binding-constraints)"
    r"-(?P<period>hourly|daily|weekly|monthly|annual)\.txt"
)
_WEEK_BY_WEEK = re.compile(r"optimization/week-by-week/year_(?P<year>\d+)\.txt")
#: Files the merge writes itself (pooled or synthesised), never copied from a partial run
#: (read for every run: a zipped run preloads them).
WRITTEN_FILES = frozenset(
    {
        "info.antares-output",
        "execution_info.ini",
        "simulation.log",
        "annualSystemCost.txt",
        "checkIntegrity.txt",
        "about-the-study/parameters.ini",
    }
)
#: Run-specific files taken from the first partial run (they differ on every run).
FIRST_RUN_FILES = frozenset(
    {
        "about-the-study/study.ini",
        "optimization/solve-durations.txt",
        "optimization/update-durations.txt",
    }
)
_SYMLINK_HELP = (
    "on Windows, symbolic links need Developer Mode or the 'Create symbolic links' "
    "privilege; use mc_ind='copy' (winjobs merge --mc-ind copy) instead"
)


@dataclass
class MergeReport:
    """What a merge did. `warnings` need a user's attention (hot start, files that differ
    between workers, variables printed N/A); `bytes_read` counts the mc-all tables read."""

    out_dir: Path
    years: tuple[int, ...]
    runs: tuple[Path, ...]
    tables: int = 0
    bytes_read: int = 0
    mc_ind_years: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PartialRun:
    """One run to merge: a run folder, or a zipped run read where it is (`source`)."""

    path: Path  #: the folder, or the zip
    info: RunInfo
    files: frozenset[str]
    source: Run

    @property
    def name(self) -> str:
        """The run folder's name (a zipped run's too)."""
        return self.source.name

    def read(self, relative: str) -> bytes:
        data = read_run_file(self.source, relative)
        if data is None:
            raise MergeError(f"partial run {self.name} has no {relative}")
        return data

    def read_text(self, relative: str) -> str:
        return self.read(relative).decode("utf-8")

    def share(self) -> RunWeight:
        """W as the solver sums it (C floats, ascending years) and K."""
        total = np.float32(0)
        for year in sorted(self.info.years):
            total = np.float32(total + np.float32(self.info.weights[year]))
        return RunWeight(float(total), len(self.info.years))


def place(source: Path, target: Path, how: McIndMode) -> None:
    """Copy, move or symbolically link one file or folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if how == "copy":
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    elif how == "move":
        shutil.move(str(source), str(target))
    else:
        try:
            target.symlink_to(source.resolve(), target_is_directory=source.is_dir())
        except OSError as exc:
            raise MergeError(
                f"cannot create the symbolic link {target} -> {source}: "
                f"{exc.strerror or exc}; {_SYMLINK_HELP}"
            ) from None


def _target(root: Path, relative: str) -> Path:
    return root.joinpath(*PurePosixPath(relative).parts)


def write_mc_all(
    runs: Sequence[PartialRun],
    out: Path,
    mode: str,
    report: MergeReport,
    districts: Mapping[str, str],
) -> None:
    """Every mc-all table pooled, the digest rebuilt; `districts` maps a district's
    folder name (`@ <id>`) to its digest row name (`@ <caption>`)."""
    prefix = f"{mode}/mc-all/"
    listing = [sorted(f for f in r.files if f.startswith(prefix)) for r in runs]
    for run, files in zip(runs[1:], listing[1:], strict=True):
        if files != listing[0]:
            odd = sorted(set(files) ^ set(listing[0]))[0]
            raise MergeError(
                f"{runs[0].name} and {run.name} differ in their mc-all files "
                f"(e.g. {odd}): runs of different studies or settings"
            )
    shares = [r.share() for r in runs]
    annual_areas: dict[str, OutputTable] = {}
    annual_links: dict[str, OutputTable] = {}
    rest: list[str] = []
    for relative in listing[0]:
        match = _TABLE.fullmatch(relative)
        if match is None:
            if not relative.startswith(prefix + "id-") and "/id-" not in relative:
                rest.append(relative)
            continue
        id_name = f"{match['dir']}/id-{match['period']}.txt"
        with_ids = match["kind"] == "values" and id_name in runs[0].files
        tables = (
            (_read(r, relative, report), _read(r, id_name, report) if with_ids else None)
            for r in runs
        )  # read one run at a time: the merge folds each in and drops it
        merged = merge_table(tables, shares, relative)
        merged.values.write(_target(out, relative))
        report.tables += 1
        if merged.ids is not None:
            merged.ids.write(_target(out, id_name))
            report.tables += 1
        report.warnings.extend(merged.notes)
        if match["kind"] == "values" and match["period"] == "annual":
            parent = PurePosixPath(match["dir"])
            if parent.parent.name == "areas":
                annual_areas[parent.name] = merged.values
            elif parent.parent.name == "links":
                annual_links[parent.name] = merged.values
    for relative in rest:
        if relative == prefix + "grid/digest.txt":
            text = runs[0].read_text(relative)
            rows = _digest_rows(annual_areas, districts)
            digest = rebuild_digest(text, rows, _link_flows(annual_links))
            _target(out, relative).write_text(digest, "utf-8", newline="")
        else:
            _copy_once(runs, relative, out, report)


def _read(run: PartialRun, relative: str, report: MergeReport) -> OutputTable:
    if not isinstance(run.source, ZippedRun):
        path = _target(run.path, relative)
        report.bytes_read += path.stat().st_size
        return read_table(path)
    data = run.read(relative)
    report.bytes_read += len(data)
    return OutputTable.parse(data, source=f"{run.name}/{relative}")


def _digest_rows(
    tables: dict[str, OutputTable], districts: Mapping[str, str]
) -> dict[str, DigestRow]:
    """Digest rows by the name the digest prints: the area id, `@ <caption>` of a district
    (the real solver's; the folder name `@ <id>` is matched too)."""
    rows = {area: first_statistic_row(t) for area, t in tables.items()}
    return rows | {districts[name]: row for name, row in rows.items() if name in districts}


def _link_flows(tables: dict[str, OutputTable]) -> dict[str, dict[tuple[str, str], float]]:
    flows: dict[str, dict[tuple[str, str], float]] = {}
    for link, table in tables.items():
        ends = link.split(" - ")
        if len(ends) != 2:
            continue
        values, columns, na = first_statistic_row(table)
        for value, column, missing in zip(values, columns, na, strict=True):
            flows.setdefault(column.caption, {})[(ends[0], ends[1])] = (
                float("nan") if missing else float(value)
            )
    return flows


def _copy_once(runs: Sequence[PartialRun], relative: str, out: Path, report: MergeReport) -> None:
    """A file every worker writes alike: copied from the first run holding it; a warning
    names it when the runs disagree."""
    holders = [r for r in runs if relative in r.files]
    first = holders[0].read(relative)
    target = _target(out, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(first)
    if relative in FIRST_RUN_FILES:
        return
    differing = [r.name for r in holders[1:] if r.read(relative) != first]
    if differing:
        report.warnings.append(
            f"{relative} differs between partial runs ({holders[0].name} kept; "
            f"different in {', '.join(differing)})"
        )


def write_once_files(
    study: Study, runs: Sequence[PartialRun], out: Path, report: MergeReport, name: str
) -> None:
    counts = [len(r.info.years) for r in runs]
    (out / "about-the-study").mkdir(parents=True, exist_ok=True)
    (out / "about-the-study" / "parameters.ini").write_bytes(
        (study.path / "settings" / "generaldata.ini").read_bytes()
    )
    (out / "info.antares-output").write_bytes(
        merged_info(runs[0].read("info.antares-output"), name)
    )
    (out / "execution_info.ini").write_bytes(
        sum_execution_info([r.read("execution_info.ini") for r in runs], sum(counts))
    )
    logs = [
        (
            r.name,
            r.info.years,
            r.read("simulation.log").decode("utf-8", "replace")
            if "simulation.log" in r.files
            else "",
        )
        for r in runs
    ]
    (out / "simulation.log").write_text(concatenated_log(logs), "utf-8", newline="")
    for file_name, pooler in (
        ("annualSystemCost.txt", pool_annual_system_cost),
        ("checkIntegrity.txt", pool_check_integrity),
    ):
        present = [r for r in runs if file_name in r.files]
        if len(present) == len(runs):
            texts = [r.read_text(file_name) for r in runs]
            (out / file_name).write_text(pooler(texts, counts, file_name), "utf-8", newline="")
        elif present:
            report.warnings.append(f"{file_name} is missing from some partial runs: not merged")
    mode_prefixes = ("economy/", "adequacy/")
    once = sorted(
        {f for r in runs for f in r.files}
        - WRITTEN_FILES
        - {f for r in runs for f in r.files if f.startswith(mode_prefixes)}
    )
    for relative in once:
        if not _WEEK_BY_WEEK.fullmatch(relative):
            _copy_once(runs, relative, out, report)


def gather_years(
    runs: Sequence[PartialRun],
    out: Path,
    mode: str,
    how: McIndMode,
    report: MergeReport,
    moved: list[tuple[Path, Path]],
) -> None:
    """mc-ind year folders and week-by-week year files into `out`; appends to `moved`
    each (source, target) as soon as it is moved, so a failed merge can put it back.
    Those of a zipped run are extracted into `out`, whatever `how`."""
    for run in runs:
        for year in run.info.years:
            pieces = [
                (f"{mode}/mc-ind/{year + 1:05d}", True),
                (f"optimization/week-by-week/year_{year}.txt", False),
            ]
            for relative, is_year_folder in pieces:
                target = _target(out, relative)
                if isinstance(run.source, ZippedRun):
                    if not run.source.has(relative):
                        continue
                    run.source.extract(relative, target)
                    report.mc_ind_years += int(is_year_folder)
                    continue
                source = _target(run.path, relative)
                if not source.exists():
                    continue
                place(source, target, how)
                if how == "move":
                    moved.append((source, target))
                report.mc_ind_years += int(is_year_folder)

"""Solver runs seen from outside: find the folder a run produced, decide whether it
succeeded, follow its progress in the log, and read what it says about itself.

The solver has no output-directory option: each run creates
`STUDY/output/<YYYYMMDD-HHMM><eco|adq|exp>[-name]` (`exp`: `mode = expansion`; `-2`,
`-3`... on a clash; `.zip` with `-z` or `result-format = zip`), so the worker lists
`output/` before the run and looks for the new entry after.

Success is decided the strict way (FORMAT.md section 3), because the 8.8 solver logs
"Quitting the solver gracefully" even on failures and leaves a partial folder: exit status
0, `execution_info.ini` present (written after a normal run), no `[fatal]` line in the
log, and, when year-by-year is on, the `mc-ind` folder of every expected year. With
geographic or thematic trimming (the run's parameters.ini says so) the filters may leave
nothing to write per year (the real 8.8 solver then writes no `mc-ind` at all): a run with
NO year folder passes, one with some of them but not all does not.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import sys
import zipfile
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from winjobs.antares.ini import IniDocument, as_bool
from winjobs.antares.playlist import evaluate_playlist, generaldata_nbyears
from winjobs.antares.unpack import safe_parts
from winjobs.errors import IniError, OutputError, StudyError

__all__ = [
    "RUN_KIND",
    "Progress",
    "Run",
    "RunCheck",
    "RunInfo",
    "ZippedRun",
    "check_run",
    "fatal_lines",
    "find_run_folders",
    "first_link",
    "missing_years",
    "mode_folder",
    "new_run_folder",
    "parse_progress",
    "read_run_file",
    "read_run_info",
    "run_files",
    "strip_ansi",
    "year_folders",
]

RUN_NAME = re.compile(r"(?P<stamp>\d{8}-\d{4})(?P<mode>eco|adq|exp)(?:-(?P<name>.+?))?(?:\.zip)?")
#: The run folder's mode part, per study mode (the solver's own abbreviations).
RUN_KIND = {"economy": "eco", "adequacy": "adq", "expansion": "exp"}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LEVEL = re.compile(r"\[(?:infos|check|warns|error|fatal|notic|debug)\]")
_FATAL = re.compile(r"\[fatal\]\s*(?P<text>.*)")
_MC_YEARS = re.compile(r"MC-Years : \[\d+ \.\. (?P<last>\d+)\], total: (?P<total>\d+)")
_BATCH = re.compile(r"\]\s*Year\(s\)(?P<years>(?: \d+)*)\s*$")
#: What the solver logs after its last year, before writing mc-all (or instead of it).
_ALL_YEARS_DONE = ("Exporting the survey results", "The simulation synthesis is disabled")
_EXIT_REASONS = {42: "the solver ran out of memory (exit status 42)"}


@dataclass(frozen=True)
class RunCheck:
    ok: bool
    reason: str | None = None


@dataclass(frozen=True)
class Progress:
    years_done: int
    years_total: int | None


@dataclass(frozen=True)
class RunInfo:
    """What a run folder says about itself. `years` are 0-based; `weights` per year."""

    path: Path
    version: str
    mode: str
    name: str
    date: str
    nbyears: int
    years: tuple[int, ...]
    weights: dict[int, float]
    year_by_year: bool
    synthesis: bool
    #: `[output] result-format = zip`: a single run of these settings is `<run>.zip`
    zipped: bool = False


def strip_ansi(text: str) -> str:
    """The solver's text without the colour codes it writes even into files and pipes
    (`\x1b[0;31m[fatal]\x1b[0m`): what a log tail or a version check should read."""
    return _ANSI.sub("", text)


class ZippedRun:
    """A run folder inside a zip, read without unpacking it: the zip's single top-level
    folder (how a worker zips its run) or the zip's root (the solver's own `-z` zip).

    Built on an open zip (the driver checking an upload; `contents`: entries already
    read, by name in the zip), or on a zip file (`at`), which is then opened again for
    each read unless `held_open` (a merge reads hundreds of runs and must not hold a file
    open for each); `at` reads the files named in `preload` at once and keeps them, for
    the few files every reader of a run wants."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        label: str,
        path: Path | None = None,
        contents: Mapping[str, bytes] | None = None,
    ) -> None:
        self.archive = archive if path is None else None
        self.path = path
        names = [n for n in archive.namelist() if not n.endswith("/")]
        tops = {n.split("/", 1)[0] for n in names}
        top = next(iter(tops)) if len(tops) == 1 else ""
        self.prefix = f"{top}/" if top and all(n.startswith(top + "/") for n in names) else ""
        self.name = top if self.prefix else label
        self.files = {n[len(self.prefix) :] for n in names}
        #: entries already read (by their name relative to the run)
        self._kept: dict[str, bytes] = {
            name[len(self.prefix) :]: data
            for name, data in (contents or {}).items()
            if name.startswith(self.prefix)
        }

    @classmethod
    def at(cls, path: Path, preload: Collection[str] = ()) -> ZippedRun:
        """The zipped run in the file at `path` (OutputError if it is no readable zip)."""
        try:
            with zipfile.ZipFile(path) as archive:
                run = cls(archive, path.name.removesuffix(".zip"), path)
                for relative in preload:
                    if relative in run.files:
                        run._kept[relative] = archive.read(run.prefix + relative)
        except (OSError, zipfile.BadZipFile, zlib.error) as exc:
            raise OutputError(f"{path} is not a readable zip ({exc})") from None
        return run

    def read(self, relative: str) -> bytes | None:
        if relative not in self.files:
            return None
        if relative in self._kept:
            return self._kept[relative]
        if self.archive is not None:
            return self.archive.read(self.prefix + relative)
        assert self.path is not None
        with zipfile.ZipFile(self.path) as archive:
            return archive.read(self.prefix + relative)

    @contextlib.contextmanager
    def held_open(self) -> Iterator[None]:
        """Keep the zip file open meanwhile: every opening parses its whole central
        directory again, which cost a merge of four 2-year runs of the example study
        0.75 s of its 4.3 s. A merge holds only so many open (`merge.HELD_OPEN_RUNS`)."""
        if self.archive is not None or self.path is None:
            yield
            return
        with zipfile.ZipFile(self.path) as archive:
            self.archive = archive
            try:
                yield
            finally:
                self.archive = None

    def has(self, relative: str) -> bool:
        """Whether the run holds this file, or files under this folder."""
        inside = relative + "/"
        return relative in self.files or any(f.startswith(inside) for f in self.files)

    def extract(self, relative: str, target: Path) -> None:
        """Write the file `relative`, or every file under the folder `relative`, as
        `target` (a file, or a folder made for them)."""
        inside = relative + "/"
        wanted = [f for f in sorted(self.files) if f == relative or f.startswith(inside)]
        if self.archive is not None:
            self._extract(self.archive, wanted, relative, target)
            return
        assert self.path is not None
        with zipfile.ZipFile(self.path) as archive:
            self._extract(archive, wanted, relative, target)

    def _extract(
        self, archive: zipfile.ZipFile, wanted: list[str], relative: str, target: Path
    ) -> None:
        for name in wanted:
            below = name[len(relative) :].lstrip("/")
            path = target.joinpath(*safe_parts(below)) if below else target
            path.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(self.prefix + name) as source, path.open("xb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)


#: a run folder, a zipped run's path, or a zipped run already open
Run = Path | ZippedRun


def find_run_folders(study_dir: Path) -> list[Path]:
    """Run folders (and zipped runs) in `study_dir/output`, by name."""
    output = Path(study_dir) / "output"
    if not output.is_dir():
        return []
    return sorted(
        p
        for p in output.iterdir()
        if RUN_NAME.fullmatch(p.name) and (p.is_dir() or (p.is_file() and p.suffix == ".zip"))
    )


def new_run_folder(study_dir: Path, before: Collection[str]) -> Path | None:
    """The run folder that appeared since `before` (names listed before the run); the
    last by name when several did (a clash gives `-2`, which sorts after)."""
    fresh = [p for p in find_run_folders(study_dir) if p.name not in before]
    return fresh[-1] if fresh else None


def run_files(run_dir: Run) -> set[str]:
    """Relative POSIX paths of the files of a run folder or zipped run."""
    if isinstance(run_dir, ZippedRun):
        return set(run_dir.files)
    if run_dir.is_file():
        try:
            with zipfile.ZipFile(run_dir) as zf:
                return {n.rstrip("/") for n in zf.namelist() if not n.endswith("/")}
        except zipfile.BadZipFile as exc:
            raise OutputError(f"{run_dir} is not a readable zip ({exc})") from None
    found: set[str] = set()
    _list_files(str(run_dir), "", found)
    return found


def _list_files(folder: str, prefix: str, found: set[str]) -> None:
    """`run_dir.rglob("*")`'s files, from the directory entries' own types (one scandir
    per folder, no stat per file: a real run holds hundreds of files, and a shared-mode
    completion lists them on the worker's share). As `rglob`, a link to a file counts,
    a link to a folder is not followed."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                _list_files(entry.path, f"{prefix}{entry.name}/", found)
            elif entry.is_file():
                found.add(prefix + entry.name)


def first_link(folder: Path, windows: bool = sys.platform == "win32") -> str | None:
    """The relative POSIX path of a symbolic link inside `folder` (on Windows also a
    junction, or any other reparse point), None if there is none.

    A solver's run holds no link. One in a run that a worker reports on its share could
    make the driver read, copy or merge one of its own files (another job's data, a
    secret) into a job's output. `windows` is the seam the tests use for that branch."""
    pending = [(str(folder), "")]
    while pending:
        path, prefix = pending.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                if _is_link(entry, windows):
                    return prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, f"{prefix}{entry.name}/"))
    return None


def _is_link(entry: os.DirEntry[str], windows: bool) -> bool:
    if entry.is_symlink():
        return True
    if not windows:
        return False
    # a junction is a reparse point that is not a symlink (Python < 3.12 has no
    # is_junction); the attribute comes with the directory listing on Windows: no stat
    attributes: int = getattr(entry.stat(follow_symlinks=False), "st_file_attributes", 0)
    return bool(attributes & stat.FILE_ATTRIBUTE_REPARSE_POINT)


def read_run_file(run_dir: Run, relative: str) -> bytes | None:
    """One file of a run folder or zipped run (None when absent)."""
    if isinstance(run_dir, ZippedRun):
        return run_dir.read(relative)
    if run_dir.is_file():
        with zipfile.ZipFile(run_dir) as zf:
            try:
                return zf.read(relative)
            except KeyError:
                return None
    path = run_dir / PurePosixPath(relative)
    try:  # no stat first: the file is there in a finished run, and a miss costs no more
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError:  # a folder of that name (Windows says PermissionError), or unreadable
        if path.is_file():
            raise
        return None


def mode_folder(files: Collection[str]) -> str | None:
    """`economy` or `adequacy`: the folder holding the run's results."""
    for name in ("economy", "adequacy"):
        if any(f.startswith(name + "/") for f in files):
            return name
    return None


def fatal_lines(text: str) -> list[str]:
    """The text of each `[fatal]` line the solver printed, in order."""
    clean = strip_ansi(text)
    return [m.group("text").strip() for m in _FATAL.finditer(clean)]


def check_run(
    run_dir: Run | None,
    *,
    exit_code: int,
    expected_years: Sequence[int],
    year_by_year: bool,
    log_text: str,
) -> RunCheck:
    """Did this solver invocation succeed? `expected_years` are 0-based; `log_text` is
    what the solver printed (the run's own simulation.log is read as well)."""
    fatal = fatal_lines(log_text)
    if exit_code != 0:
        reason = _EXIT_REASONS.get(exit_code, f"the solver exited with status {exit_code}")
        return RunCheck(False, reason + (f": {fatal[0]}" if fatal else ""))
    if fatal:
        return RunCheck(False, f"the solver printed a fatal error: {fatal[0]}")
    if run_dir is None:
        return RunCheck(False, "the solver wrote no run folder in the study's output/")
    files = run_files(run_dir)
    if "execution_info.ini" not in files:
        return RunCheck(
            False, f"{run_dir.name} has no execution_info.ini: the run did not finish normally"
        )
    log = read_run_file(run_dir, "simulation.log")
    fatal = fatal_lines(log.decode("utf-8", "replace")) if log else []
    if fatal:
        return RunCheck(False, f"the run's simulation.log has a fatal error: {fatal[0]}")
    if year_by_year:
        missing = missing_years(run_dir, files, expected_years)
        if missing:
            shown = ", ".join(f"{y + 1:05d}" for y in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            return RunCheck(False, f"{run_dir.name} lacks mc-ind years {shown}{more}")
    return RunCheck(True)


def year_folders(files: Collection[str]) -> set[int]:
    """0-based years whose `<mode>/mc-ind/NNNNN/` holds at least one file."""
    mode = mode_folder(files) or "economy"
    return {
        int(parts[2]) - 1
        for parts in (f.split("/") for f in files)
        if len(parts) > 3 and parts[0] == mode and parts[1] == "mc-ind" and parts[2].isdigit()
    }


def missing_years(run_dir: Run, files: Collection[str], expected: Sequence[int]) -> list[int]:
    """Expected years without year-by-year output, in a run that should have it: none are
    missing when trimming (geographic or thematic) left nothing at all to write per year."""
    present = year_folders(files)
    missing = [y for y in expected if y not in present]
    if missing and not present and may_skip_year_by_year(run_dir):
        return []
    return missing


def may_skip_year_by_year(run_dir: Run) -> bool:
    """Whether the run's settings may leave no year-by-year file at all: output filters
    (`geographic-trimming`) or a variable selection (`thematic-trimming`)."""
    data = read_run_file(run_dir, "about-the-study/parameters.ini")
    if data is None:
        return False
    try:
        params = IniDocument.parse(data, source=f"{run_dir.name}/about-the-study/parameters.ini")
    except IniError:
        return False
    return any(
        as_bool(params.get("general", key)) for key in ("geographic-trimming", "thematic-trimming")
    )


def parse_progress(log_text: str) -> Progress:
    """Years finished and played, from the solver's log so far.

    `MC-Years : [1 .. N], total: K` gives K. A year is finished when the solver logs
    `Exporting the annual results` for it (year-by-year) or, without year-by-year, when
    the batch that played it (`Year(s) 3 4`) is followed by the next batch or by the
    line the solver logs once every year is done: `Exporting the survey results`, or
    with `synthesis = false` `The simulation synthesis is disabled.` (real 8.8 logs).
    """
    total: int | None = None
    exported = 0
    batches: list[int] = []
    survey = False
    for raw in strip_ansi(log_text).splitlines():
        if not _LEVEL.search(raw):
            continue
        if m := _MC_YEARS.search(raw):
            total, exported, batches, survey = int(m.group("total")), 0, [], False
        elif "Exporting the annual results" in raw:
            exported += 1
        elif m := _BATCH.search(raw):
            batches.append(len(m.group("years").split()))
        elif any(line in raw for line in _ALL_YEARS_DONE):
            survey = True
    if survey and total is not None:
        return Progress(total, total)
    finished_batches = sum(batches[:-1])
    done = max(exported, finished_batches)
    return Progress(min(done, total) if total is not None else done, total)


def read_run_ini(run_dir: Run, relative: str) -> IniDocument:
    """One of the run's INI files, parsed (OutputError when absent or unreadable)."""
    data = read_run_file(run_dir, relative)
    if data is None:
        raise OutputError(f"{run_dir.name} has no {relative}")
    try:
        return IniDocument.parse(data, source=f"{run_dir.name}/{relative}")
    except IniError as exc:
        raise OutputError(str(exc)) from None


def read_run_info(run_dir: Run, params: IniDocument | None = None) -> RunInfo:
    """Version, mode, name, date (info.antares-output) and the played years and weights
    (about-the-study/parameters.ini, replayed like the solver; `params`: that file as
    the caller already parsed it). A zipped run's `path` is its name."""
    info = read_run_ini(run_dir, "info.antares-output")
    if params is None:
        params = read_run_ini(run_dir, "about-the-study/parameters.ini")
    try:
        nbyears = generaldata_nbyears(params)
    except StudyError as exc:
        raise OutputError(f"{run_dir.name}: {exc}") from None
    playlist = evaluate_playlist(params, nbyears)
    if playlist.problems:
        raise OutputError(f"{run_dir.name}: " + "; ".join(playlist.problems))
    return RunInfo(
        path=Path(run_dir.name) if isinstance(run_dir, ZippedRun) else run_dir,
        version=(info.get("general", "version") or "").strip(),
        mode=(info.get("general", "mode") or "").strip(),
        name=(info.get("general", "name") or "").strip(),
        date=(info.get("general", "date") or "").strip(),
        nbyears=nbyears,
        years=tuple(playlist.years),
        weights=dict(playlist.weights),
        year_by_year=as_bool(params.get("general", "year-by-year")),
        synthesis=as_bool(params.get("output", "synthesis", "true")),
        zipped=(params.get("output", "result-format") or "").strip().lower() == "zip",
    )

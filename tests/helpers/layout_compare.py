"""Compare the LAYOUT of two solver runs (the stand-in's against the real solver's): the
same files, the same header lines, the same `N/A` cells, the same digest shape and the
same progress lines, whatever the numbers.

`layout_problems(real, mine)` returns human-readable differences (empty when the layouts
agree); a run is a folder or a zipped run (`output/<run>.zip`).

- files: the same relative paths;
- values/details/id/binding-constraints files: lines 1 to 7 byte for byte (names, levels,
  column count, first and last index, every caption, unit and statistic), the same number
  of data rows, the same first and last index fields, `N/A` in the same cells;
- grid/digest.txt: the same lines with every number replaced by `n`;
- simulation.log: the same progress lines (batches, years, exports, MPS files...) as a
  multiset: parallel years interleave their lines differently from run to run.
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from winjobs.antares.output import read_run_file, run_files

_TABLE = re.compile(
    r"(values|details|details-res|details-STstorage|id|binding-constraints)-"
    r"(hourly|daily|weekly|monthly|annual)\.txt"
)
_INDEX_FIELDS = {"hourly": 4, "daily": 3, "weekly": 1, "monthly": 2, "annual": 1}
_NA = re.compile(rb"(?<=\t)N/A(?=[\t\n])")
PROGRESS = re.compile(
    r"MC-Years|parallel batch size|Year\(s\)|playlist: ignoring|Exporting the annual results"
    r"|Exporting results|Exporting the survey results|The simulation synthesis is disabled"
    r"|Exporting digest|quadratic|Quitting the solver gracefully|Solver MPS File"
    r"|Solver Criterion File"
)


def _reader(run: Path) -> Callable[[str], bytes]:
    if run.is_file():
        archive = zipfile.ZipFile(run)
        return archive.read
    return lambda relative: read_run_file(run, relative) or b""


def na_cells(data: bytes) -> list[tuple[int, int]]:
    """(line, field) of every `N/A` cell of a file, 0-based, found with numpy (a run has
    tens of megabytes of tables)."""
    found = [m.start() for m in _NA.finditer(data)]
    if not found:
        return []
    raw = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 10)
    tabs = np.flatnonzero(raw == 9)
    offsets = np.array(found)
    rows = np.searchsorted(newlines, offsets)
    line_starts = np.where(rows > 0, newlines[np.maximum(rows - 1, 0)] + 1, 0)
    columns = np.searchsorted(tabs, offsets) - np.searchsorted(tabs, line_starts)
    return list(zip(rows.tolist(), columns.tolist(), strict=True))


def _table_problems(relative: str, real: bytes, mine: bytes) -> list[str]:
    real_lines, my_lines = real.split(b"\n"), mine.split(b"\n")
    for number, (a, b) in enumerate(zip(real_lines[:7], my_lines[:7], strict=False), start=1):
        if a != b:
            only_real = sorted(set(a.split(b"\t")) - set(b.split(b"\t")))[:6]
            only_mine = sorted(set(b.split(b"\t")) - set(a.split(b"\t")))[:6]
            return [f"{relative}: line {number} differs: real has {only_real}, mine {only_mine}"]
    real_rows, my_rows = real_lines[7:], my_lines[7:]
    if len(real_rows) != len(my_rows):
        return [f"{relative}: {len(real_rows) - 1} data rows in the real file, {len(my_rows) - 1}"]
    period = relative.rsplit("-", 1)[-1].removesuffix(".txt")
    width = 1 + _INDEX_FIELDS.get(period, 1)
    for row in (0, len(real_rows) - 2):
        if row >= 0 and real_rows[row].split(b"\t")[:width] != my_rows[row].split(b"\t")[:width]:
            return [f"{relative}: index of data row {row + 1} differs"]
    if (b"N/A" in real) or (b"N/A" in mine):
        real_na, my_na = na_cells(real), na_cells(mine)
        if real_na != my_na:
            extra = sorted(set(my_na) - set(real_na))[:3]
            missing = sorted(set(real_na) - set(my_na))[:3]
            return [f"{relative}: N/A cells differ (mine only {extra}, real only {missing})"]
    return []


def _shape(text: bytes) -> list[list[str]]:
    def cell(value: str) -> str:
        try:
            float(value)
        except ValueError:
            return value
        return "n"

    return [[cell(c) for c in line.split("\t")] for line in text.decode().split("\n")]


def progress_lines(log: bytes) -> Counter[str]:
    """The progress lines of a log, without their time stamps, counted."""
    lines = log.decode("utf-8", "replace").splitlines()
    return Counter(line.split("]", 3)[-1].strip() for line in lines if PROGRESS.search(line))


def layout_problems(real: Path, mine: Path) -> list[str]:
    """Every layout difference between two runs (see the module's docstring)."""
    real_files, my_files = run_files(real), run_files(mine)
    problems = [f"only in the real run: {p}" for p in sorted(real_files - my_files)[:10]]
    problems += [f"only in the stand-in's run: {p}" for p in sorted(my_files - real_files)[:10]]
    read_real, read_mine = _reader(real), _reader(mine)
    for relative in sorted(real_files & my_files):
        name = relative.rsplit("/", 1)[-1]
        if _TABLE.fullmatch(name):
            problems += _table_problems(relative, read_real(relative), read_mine(relative))
        elif name == "digest.txt":
            real_shape, my_shape = _shape(read_real(relative)), _shape(read_mine(relative))
            if real_shape != my_shape:
                problems.append(f"{relative}: another shape than the real one")
        if len(problems) > 20:
            break
    if "simulation.log" in real_files & my_files:
        real_lines = progress_lines(read_real("simulation.log"))
        my_lines = progress_lines(read_mine("simulation.log"))
        if real_lines != my_lines:
            problems.append(
                f"progress lines differ: real only {dict(real_lines - my_lines)}, "
                f"stand-in only {dict(my_lines - real_lines)}"
            )
    return problems

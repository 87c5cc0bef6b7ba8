"""Compare a merged run with a single run of the same years, with the tolerances of
Antares' own non-regression tests (issue 3, docs/merging.md):

- values/details cells: |a - b| <= units * 10**-decimals + rel * max(|a|, |b|), with
  units = 1 (2 for `std`) and rel = 1e-4 (1e-3 for the variables Antares' Linux
  non-regression tolerances relax: costs, prices, flows...); `std` cells also allow
  sqrt(1e-15) * |EXP|, the cancellation of the solver's E[x^2] - EXP^2 form;
  `N/A`, `NaN` and infinities must match exactly;
- id cells name the same year, except where the extremes tie: the merged year's value
  equals (as printed) the single run's year's value, checked on the partial runs'
  printed extremes (or on mc-ind years when no partial run is given);
- annualSystemCost.txt / checkIntegrity.txt: relative 1e-4 (STD/std: of the EXP).

`compare_runs` returns human-readable problems (empty when the runs agree) so a failing
test shows the first offending cells.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from winjobs.antares.output import read_run_info
from winjobs.antares.values import OutputTable, read_table

#: Variables whose Antares NR tolerance is relative 1e-3 instead of 1e-4.
RELAXED = frozenset(
    {
        "OV. COST",
        "OP. COST",
        "MRG. PRICE",
        "NP COST",
        "FLOW LIN.",
        "UCAP LIN.",
        "CONG. FEE (ALG.)",
        "CONG. FEE (ABS.)",
        "MARG. COST",
        "HURDLE COST",
        "H. VAL",
        "H. COST",
        "BALANCE",
        "H. LEV",
        "H. STOR",
        "H. PUMP",
    }
)
_TABLE = re.compile(r"(values|details|details-res|details-STstorage|binding-constraints)-\w+\.txt")


@dataclass(frozen=True)
class Tolerance:
    relative: float = 1e-4
    relaxed_relative: float = 1e-3
    units: float = 1.0
    std_units: float = 2.0


def _allowed(
    table: OutputTable,
    col: int,
    a: np.ndarray,
    b: np.ndarray,
    exp: np.ndarray | None,
    tol: Tolerance,
) -> np.ndarray:
    column = table.columns[col]
    unit = 10.0**-column.decimals
    units = tol.std_units if column.stat == "std" else tol.units
    relative = tol.relaxed_relative if column.caption in RELAXED else tol.relative
    allowed = units * unit * 1.0001 + relative * np.maximum(np.abs(a), np.abs(b))
    if column.stat == "std" and exp is not None:
        allowed = allowed + math.sqrt(1e-15) * np.abs(exp)
    return np.asarray(allowed, dtype=np.float64)


def compare_tables(
    expected: OutputTable, actual: OutputTable, where: str, tol: Tolerance = Tolerance()
) -> list[str]:
    """Problems found comparing two values/details tables (same layout required)."""
    layout = [(c.caption, c.unit, c.stat) for c in expected.columns]
    if layout != [(c.caption, c.unit, c.stat) for c in actual.columns]:
        return [f"{where}: columns differ"]
    if expected.index != actual.index:
        return [f"{where}: index rows differ"]
    problems: list[str] = []
    exp_na = _na(expected)
    act_na = _na(actual)
    exp_of = {c.caption: j for j, c in enumerate(expected.columns) if c.stat == "EXP"}
    for col, column in enumerate(expected.columns):
        a, b = expected.values[:, col], actual.values[:, col]
        special_a = exp_na[:, col] | ~np.isfinite(a)
        special_b = act_na[:, col] | ~np.isfinite(b)
        same_special = (exp_na[:, col] == act_na[:, col]) & (
            (np.isnan(a) == np.isnan(b)) & ((a == b) | ~np.isinf(a))
        )
        bad = (special_a | special_b) & ~same_special
        normal = ~(special_a | special_b)
        exp = expected.values[:, exp_of[column.caption]] if column.caption in exp_of else None
        allowed = _allowed(expected, col, a, b, exp, tol)
        bad |= normal & (np.abs(a - b) > allowed)
        for row in np.flatnonzero(bad)[:3]:
            problems.append(
                f"{where}: row {expected.index[row]!r} {column.caption} {column.stat or '-'}: "
                f"expected {a[row]!r}, got {b[row]!r}"
            )
    return problems


def _na(table: OutputTable) -> np.ndarray:
    if table.not_applicable is None:
        return np.zeros(table.values.shape, dtype=bool)
    return table.not_applicable


def compare_ids(
    expected: OutputTable,
    actual: OutputTable,
    where: str,
    year_value: YearValue,
) -> list[str]:
    """Id years must agree except where the two years' extremes tie as printed."""
    if [(c.caption, c.stat) for c in expected.columns] != [
        (c.caption, c.stat) for c in actual.columns
    ]:
        return [f"{where}: id columns differ"]
    problems: list[str] = []
    a, b = expected.values, actual.values
    rows, cols = np.nonzero((a != b) & ~(np.isnan(a) & np.isnan(b)))
    for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
        column = expected.columns[col]
        mine = year_value(column.caption, column.stat, row, int(b[row, col]))
        theirs = year_value(column.caption, column.stat, row, int(a[row, col]))
        if mine is None or theirs is None or abs(mine - theirs) > 1e-7:
            problems.append(
                f"{where}: row {expected.index[row]!r} {column.caption} {column.stat}: "
                f"year {int(a[row, col])} expected, got {int(b[row, col])} "
                f"(values {theirs} and {mine} do not tie)"
            )
            if len(problems) >= 5:
                break
    return problems


class YearValue:
    """The printed value of variable `caption` at `row` for a 1-based year: from the
    partial run that played the year (its min/max column) or from mc-ind files."""

    def __init__(self, relative: str, mode_dir: str, partials: Sequence[Path], full: Path):
        self.relative = relative
        self.mode_dir = mode_dir
        self.sources: dict[int, Path] = {}
        for partial in partials:
            for year in read_run_info(partial).years:
                self.sources[year + 1] = partial
        self.full = full
        self.cache: dict[Path, OutputTable] = {}

    def _table(self, path: Path) -> OutputTable | None:
        if path not in self.cache:
            if not path.is_file():
                return None
            self.cache[path] = read_table(path)
        return self.cache[path]

    def __call__(self, caption: str, stat: str, row: int, year: int) -> float | None:
        partial = self.sources.get(year)
        if partial is not None:
            table = self._table(partial / self.mode_dir / "mc-all" / self.relative)
            stats = [(c.caption, c.stat) for c in table.columns] if table else []
            if table is None or (caption, stat) not in stats:
                return None
            return float(table.values[row, stats.index((caption, stat))])
        table = self._table(self.full / self.mode_dir / "mc-ind" / f"{year:05d}" / self.relative)
        if table is None:
            return None
        captions = [c.caption for c in table.columns]
        return float(table.values[row, captions.index(caption)]) if caption in captions else None


def compare_digest(
    expected: Path, actual: Path, where: str, tol: Tolerance = Tolerance()
) -> list[str]:
    """grid/digest.txt: the same lines, numbers within the tolerance of their variable (the
    captions line above a block names each column's variable; the `Links (...)` matrices
    are flows), every other field equal."""
    a_lines = expected.read_text("utf-8").split("\n")
    b_lines = actual.read_text("utf-8").split("\n")
    if len(a_lines) != len(b_lines):
        return [f"{where}: {len(a_lines)} lines expected, {len(b_lines)} found"]
    problems: list[str] = []
    captions: list[str] = []
    previous = ""
    for number, (a_line, b_line) in enumerate(zip(a_lines, b_lines, strict=True), start=1):
        a_fields, b_fields = a_line.split("\t"), b_line.split("\t")
        if a_line.startswith("\t\t") and not previous.startswith(("\t\t", "\tLinks (")):
            captions = a_fields  # the first of the captions, units, statistics lines
        elif a_line.startswith("\tLinks ("):
            captions = ["", "", *[a_line.strip()[len("Links (") : -1]] * len(a_lines)]
        previous = a_line
        if len(a_fields) != len(b_fields):
            problems.append(
                f"{where}: line {number} has {len(b_fields)} fields, not {len(a_fields)}"
            )
            continue
        for col, (x, y) in enumerate(zip(a_fields, b_fields, strict=True)):
            if x == y:
                continue
            caption = captions[col] if col < len(captions) else ""
            if not (_numeric(x) and _numeric(y)) or abs(float(x) - float(y)) > _digest_allowed(
                x, y, caption, tol
            ):
                problems.append(f"{where}: line {number} {caption}: expected {x!r}, got {y!r}")
        if len(problems) >= 5:
            break
    return problems


def _numeric(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _digest_allowed(x: str, y: str, caption: str, tol: Tolerance) -> float:
    decimals = len(x.partition(".")[2])
    relative = tol.relaxed_relative if caption in RELAXED else tol.relative
    return tol.units * 10.0**-decimals * 1.0001 + relative * max(abs(float(x)), abs(float(y)))


def compare_summaries(expected: Path, actual: Path, tol: float = 1e-4) -> list[str]:
    problems: list[str] = []
    for name, std_at in (("annualSystemCost.txt", (1,)), ("checkIntegrity.txt", (1, 5))):
        if not (expected / name).is_file():
            continue
        a = [
            float(x) for x in re.findall(r"-?\d[\d.]*(?:e[-+]\d+)?", (expected / name).read_text())
        ]
        b = [float(x) for x in re.findall(r"-?\d[\d.]*(?:e[-+]\d+)?", (actual / name).read_text())]
        if len(a) != len(b):
            problems.append(f"{name}: {len(a)} numbers expected, {len(b)} found")
            continue
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            scale = abs(a[i - 1]) if i in std_at else max(abs(x), abs(y))
            if abs(x - y) > tol * scale + 1e-9:
                problems.append(f"{name}: number {i + 1}: expected {x}, got {y}")
    return problems


def compare_runs(
    expected: Path,
    actual: Path,
    *,
    partials: Sequence[Path] = (),
    tol: Tolerance = Tolerance(),
    mc_ind_identical: bool = True,
) -> list[str]:
    """Every problem between a single run `expected` and a merged run `actual`."""
    problems: list[str] = []
    mode_dir = "adequacy" if (expected / "adequacy").is_dir() else "economy"
    mc_all = expected / mode_dir / "mc-all"
    for path in sorted(mc_all.rglob("*.txt")):
        relative = path.relative_to(mc_all).as_posix()
        other = actual / mode_dir / "mc-all" / relative
        if not other.is_file():
            problems.append(f"mc-all/{relative} is missing")
            continue
        if path.name == "digest.txt":
            problems += compare_digest(path, other, relative, tol)
        elif _TABLE.fullmatch(path.name):
            problems += compare_tables(read_table(path), read_table(other), relative, tol)
        elif path.name.startswith("id-"):
            values_name = relative.replace("/id-", "/values-")
            lookup = YearValue(values_name, mode_dir, partials, expected)
            problems += compare_ids(read_table(path), read_table(other), relative, lookup)
    if mc_ind_identical:
        ind = expected / mode_dir / "mc-ind"
        for path in sorted(ind.rglob("*")) if ind.is_dir() else []:
            if path.is_file():
                other = actual / mode_dir / "mc-ind" / path.relative_to(ind)
                if not other.is_file() or other.read_bytes() != path.read_bytes():
                    problems.append(f"mc-ind/{path.relative_to(ind).as_posix()} differs")
    return problems + compare_summaries(expected, actual)

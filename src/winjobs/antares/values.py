"""One values/details/id file of a solver run, in memory, and back to its exact text.

Layout of a file (tab-separated; FORMAT.md section 5):

    L1  <name>\\t<data level>\\t<file level>\\t<period>      e.g. `Source\\tarea\\tva\\thourly`
    L2  <link's other end>\\tVARIABLES\\tBEGIN\\tEND
    L3  \\t<number of value columns>\\t<BEGIN>\\t<END>
    L4  (empty)
    L5  <name>\\t<period><index pads>\\t<caption>...
    L6  <index pads>\\t<unit>...
    L7  \\t<index labels>\\t<statistic>...                 (empty statistics in mc-ind)
    L8+ \\t<index fields>\\t<value>...

`OutputTable.parse(data).to_bytes() == data` byte for byte for every file the solver
writes (golden-tested on real 8.8 runs). The numbers live in one float64 matrix; the
decimals each column prints with come from the text (or, for a table built from scratch,
from the variable catalogue); see `winjobs.antares.textnum` for the number format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from winjobs.antares.calendar import INDEX_LABELS, PERIODS, Calendar
from winjobs.antares.textnum import FieldError, parse_block, render_block
from winjobs.antares.variables import Column, default_decimals
from winjobs.errors import OutputError

#: File level printed in line 1 -> the file name stem it goes with.
KIND_BY_FILE_LEVEL = {
    "va": "values",
    "de": "details",
    "res": "details-res",
    "sts": "details-STstorage",
    "id": "id",
    "bc": "binding-constraints",
}
FILE_LEVEL_BY_KIND = {kind: level for level, kind in KIND_BY_FILE_LEVEL.items()}
__all__ = ["Column", "OutputTable", "read_table", "table_file_name"]
_HEADER_LINES = 7


@dataclass
class OutputTable:
    """A parsed output file. `index[i]` is row i's index fields joined by tabs
    (`1\\t01\\tJAN\\t00:00`); `values[i, j]` the number of row i, column j;
    `not_applicable` marks `N/A` cells (None when there are none)."""

    name: str
    data_level: str
    file_level: str
    period: str
    columns: list[Column]
    index: list[str]
    values: NDArray[np.float64]
    first: int = 1
    last: int = 1
    link_to: str = ""
    not_applicable: NDArray[np.bool_] | None = field(default=None)

    @property
    def kind(self) -> str:
        """values, details, details-res, details-STstorage, id or binding-constraints."""
        return KIND_BY_FILE_LEVEL.get(self.file_level, self.file_level)

    @property
    def decimals(self) -> NDArray[np.int64]:
        return np.array([c.decimals for c in self.columns], dtype=np.int64)

    @classmethod
    def parse(cls, data: bytes, *, source: str = "output file") -> OutputTable:
        """Parse a file's bytes; `source` names it in error messages."""
        lines = data.split(b"\n", _HEADER_LINES)
        if len(lines) < _HEADER_LINES:
            raise OutputError(f"{source}: not an Antares output file (header too short)")
        try:
            head = [line.decode("utf-8").split("\t") for line in lines[:_HEADER_LINES]]
        except UnicodeDecodeError as exc:
            raise OutputError(f"{source}: header is not UTF-8 text ({exc})") from None
        if len(head[0]) != 4 or head[1][1:] != ["VARIABLES", "BEGIN", "END"]:
            raise OutputError(f"{source}: not an Antares output file (unexpected header)")
        name, data_level, file_level, period = head[0]
        if period not in PERIODS:
            raise OutputError(f"{source}: unknown period {period!r} in line 1")
        n_index = len(INDEX_LABELS[period])
        captions, units, stats = (row[1 + n_index :] for row in head[4:7])
        try:
            n_values, first, last = (int(x) for x in head[2][1:4])
        except ValueError:
            raise OutputError(f"{source}: line 3 must hold three integers") from None
        if not len(captions) == len(units) == len(stats) == n_values:
            raise OutputError(
                f"{source}: line 3 announces {n_values} columns, the caption/unit/statistic "
                f"lines hold {len(captions)}/{len(units)}/{len(stats)}"
            )
        body = lines[_HEADER_LINES] if len(lines) > _HEADER_LINES else b""
        try:
            index, values, seen, not_applicable = parse_block(body, n_index, n_values)
        except (FieldError, ValueError) as exc:
            raise OutputError(f"{source}: {exc}") from None
        kind = KIND_BY_FILE_LEVEL.get(file_level, file_level)
        columns = [
            Column(c, u, s, int(d) if d >= 0 else default_decimals(kind, c, u))
            for c, u, s, d in zip(captions, units, stats, seen.tolist(), strict=True)
        ]
        return cls(
            name=name,
            data_level=data_level,
            file_level=file_level,
            period=period,
            columns=columns,
            index=index,
            values=values,
            first=first,
            last=last,
            link_to=head[1][0],
            not_applicable=not_applicable,
        )

    @classmethod
    def build(
        cls,
        name: str,
        *,
        kind: str,
        period: str,
        calendar: Calendar,
        columns: Sequence[Column],
        values: NDArray[np.float64],
        data_level: str = "area",
        link_to: str = "",
        not_applicable: NDArray[np.bool_] | None = None,
    ) -> OutputTable:
        """A table written from scratch (the stand-in solver). `values` are true numbers:
        -0.0 is taken as an exact zero and prints `0` like in the solver."""
        index, first, last = calendar.index(period)
        matrix = np.asarray(values, dtype=np.float64) + 0.0  # -0.0 + 0.0 == +0.0
        if matrix.shape != (len(index), len(columns)):
            raise ValueError(
                f"{period} table of {name!r}: values are {matrix.shape}, "
                f"expected {(len(index), len(columns))}"
            )
        return cls(
            name=name,
            data_level=data_level,
            file_level=FILE_LEVEL_BY_KIND[kind],
            period=period,
            columns=list(columns),
            index=index,
            values=matrix,
            first=first,
            last=last,
            link_to=link_to,
            not_applicable=not_applicable,
        )

    def with_values(
        self,
        values: NDArray[np.float64],
        columns: Sequence[Column] | None = None,
        not_applicable: NDArray[np.bool_] | None = None,
    ) -> OutputTable:
        """The same file (header, index) with other numbers and optionally other columns."""
        return replace(
            self,
            values=values,
            columns=list(self.columns if columns is None else columns),
            not_applicable=not_applicable,
        )

    def header_bytes(self) -> bytes:
        pads = "\t" * (len(INDEX_LABELS[self.period]) - 1)
        blank = "\t" * len(INDEX_LABELS[self.period])
        labels = "\t" + "\t".join(INDEX_LABELS[self.period])
        lines = [
            f"{self.name}\t{self.data_level}\t{self.file_level}\t{self.period}",
            f"{self.link_to}\tVARIABLES\tBEGIN\tEND",
            f"\t{len(self.columns)}\t{self.first}\t{self.last}",
            "",
            f"{self.name}\t{self.period}{pads}" + "".join("\t" + c.caption for c in self.columns),
            blank + "".join("\t" + c.unit for c in self.columns),
            labels + "".join("\t" + c.stat for c in self.columns),
        ]
        return ("\n".join(lines) + "\n").encode("utf-8")

    def to_bytes(self) -> bytes:
        if self.values.shape != (len(self.index), len(self.columns)):
            raise ValueError(
                f"table of {self.name!r}: values are {self.values.shape} for "
                f"{len(self.index)} rows and {len(self.columns)} columns"
            )
        body = render_block(self.index, self.values, self.decimals, self.not_applicable)
        return self.header_bytes() + body

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.to_bytes())


def read_table(path: Path) -> OutputTable:
    """Parse one output file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OutputError(f"cannot read {path}: {exc.strerror or exc}") from None
    return OutputTable.parse(data, source=str(path))


def table_file_name(kind: str, period: str) -> str:
    """`values-hourly.txt`, `id-annual.txt`, `binding-constraints-weekly.txt`..."""
    return f"{kind}-{period}.txt"

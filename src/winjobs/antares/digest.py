"""mc-all/grid/digest.txt: the annual overview a run ends with.

Layout of the real 8.8 file: a block of area rows (each variable's first mc-all
statistic, EXP or `values`, of the annual table), a block of district rows, then one
`Links (<variable>)` matrix per link variable with the flow from each column's area to
each row's area. The stand-in writes the file from scratch; the merge rebuilds the first
partial run's file from the merged annual tables. Both print the matrix cells here.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from winjobs.antares.merge_tables import column_groups
from winjobs.antares.textnum import ZERO, render_block
from winjobs.antares.values import OutputTable
from winjobs.antares.variables import Column

#: One area's digest row: values, their columns, their N/A flags.
DigestRow = tuple[NDArray[np.float64], list[Column], NDArray[np.bool_]]


def first_statistic_row(table: OutputTable) -> DigestRow:
    """The annual row restricted to each variable's first column (EXP or values): what
    the digest prints for an area."""
    picks = [g.columns[0] for g in column_groups(table.columns)]
    na = (
        table.not_applicable[0, picks]
        if table.not_applicable is not None
        else np.zeros(len(picks), dtype=bool)
    )
    return table.values[0, picks], [table.columns[c] for c in picks], na


def rebuild_digest(
    template: str,
    area_rows: dict[str, DigestRow],
    link_flows: dict[str, dict[tuple[str, str], float]],
) -> str:
    """grid/digest.txt of the merged run: the first partial run's digest with every area
    row (`\\t<area id>\\t...`) and every `Links (<variable>)` matrix recomputed from the
    merged annual tables. Rows it cannot match are kept as they were."""
    out: list[str] = []
    lines = template.split("\n")
    matrix: dict[tuple[str, str], float] | None = None
    header: list[str] = []
    for line in lines:
        fields = line.split("\t")
        if len(fields) == 2 and fields[1].startswith("Links (") and fields[1].endswith(")"):
            matrix = link_flows.get(fields[1][len("Links (") : -1])
            header = []
        elif matrix is not None and len(fields) > 2 and fields[1] == "...To":
            header = fields[2:]
        elif matrix is not None and header and len(fields) == len(header) + 2:
            to = fields[1]
            cells = [flow_cell(matrix, source, to) for source in header]
            line = "\t".join(["", to, *cells])
        elif len(fields) > 2 and fields[1] in area_rows:
            values, columns, na = area_rows[fields[1]]
            if len(fields) == len(columns) + 2:
                decimals = np.array([c.decimals for c in columns], dtype=np.int64)
                row = render_block([fields[1]], values.reshape(1, -1), decimals, na.reshape(1, -1))
                line = row.decode("utf-8").rstrip("\n")
        if not line and header:
            matrix, header = None, []
        out.append(line)
    return "\n".join(out)


def flow_cell(flows: dict[tuple[str, str], float], source: str, to: str) -> str:
    """One cell of a `Links (...)` matrix: the flow from `source` (column) to `to` (row),
    `X` on the diagonal, `--` where no link joins them; links are stored `a - b`, a < b."""
    if source == to:
        return "X"
    if (source, to) in flows:
        value = flows[(source, to)]
    elif (to, source) in flows:
        value = -flows[(to, source)]
    else:
        return "--"
    if np.isnan(value):
        return "--"
    return "0" if abs(value) < ZERO else f"{value:.0f}"

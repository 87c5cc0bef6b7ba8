"""mc-all/grid/digest.txt: the annual overview a run ends with.

Layout of the real 8.8 file: a block of area rows (each variable's first mc-all
statistic, EXP or `values`, of the annual table), a block of district rows (named `@
<caption>` from input/areas/sets.ini, while their folders are `@ <id>`), then one
`Links (<variable>)` matrix per link variable with the flow from each column's area to
each row's area. The solver fills it from its in-memory results whatever the output
filters: an area or link without annual synthesis output still has its row or cells
(all 0, the filtered statistics being never computed). The stand-in writes the file from
scratch; the merge rebuilds the first partial run's file from the merged annual tables,
keeping the rows and cells of what has no annual table (the same in every partial run).
Both print the matrix cells here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from winjobs.antares.ini import IniDocument
from winjobs.antares.merge_tables import column_groups
from winjobs.antares.textnum import ZERO, render_block
from winjobs.antares.values import OutputTable
from winjobs.antares.variables import Column
from winjobs.errors import IniError

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
    """grid/digest.txt of the merged run: the first partial run's digest with the area and
    district rows (`\t<name>\t...`) and the `Links (<variable>)` cells of every link
    recomputed from the merged annual tables. Rows and cells it has no table for are kept
    as they were."""
    out: list[str] = []
    matrix: dict[tuple[str, str], float] | None = None
    in_matrix = False
    header: list[str] = []
    for line in template.split("\n"):
        fields = line.split("\t")
        if len(fields) == 2 and fields[1].startswith("Links (") and fields[1].endswith(")"):
            matrix = link_flows.get(fields[1][len("Links (") : -1], {})
            in_matrix, header = True, []
        elif in_matrix and len(fields) > 2 and fields[1] == "...To":
            header = fields[2:]
        elif in_matrix and header and len(fields) == len(header) + 2:
            to = fields[1]
            cells = [
                flow_cell(matrix or {}, source, to) if _joined(matrix, source, to) else old
                for source, old in zip(header, fields[2:], strict=True)
            ]
            line = "\t".join(["", to, *cells])
        elif not in_matrix and len(fields) > 2 and fields[1] in area_rows:
            values, columns, na = area_rows[fields[1]]
            if len(fields) == len(columns) + 2:
                decimals = np.array([c.decimals for c in columns], dtype=np.int64)
                row = render_block([fields[1]], values.reshape(1, -1), decimals, na.reshape(1, -1))
                line = row.decode("utf-8").rstrip("\n")
        if not line and header:
            in_matrix, matrix, header = False, None, []
        out.append(line)
    return "\n".join(out)


def _joined(flows: dict[tuple[str, str], float] | None, a: str, b: str) -> bool:
    return flows is not None and ((a, b) in flows or (b, a) in flows)


def district_captions(study_dir: Path) -> dict[str, str]:
    """District folder name (`@ <id>`, the lower-cased section name) -> its digest row
    name (`@ <caption>`), from the study's input/areas/sets.ini."""
    path = Path(study_dir) / "input" / "areas" / "sets.ini"
    try:
        sets = IniDocument.read(path) if path.is_file() else None
    except IniError:
        return {}
    if sets is None:
        return {}
    return {
        f"@ {section.lower()}": f"@ {(sets.get(section, 'caption') or section).strip()}"
        for section in sets.sections()
    }


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

"""mc-all/grid/digest.txt: the annual overview the real solver writes after the survey.

Layout of the real 8.8 file: a block of area rows (each printed variable's first mc-all
statistic, EXP or `values`, of the annual table; `N/A` where the variable does not
apply), a block of district rows (`@ <caption>`), then one `Links (<variable>)` matrix
per printed flow variable, FLOW LIN. and FLOW QUAD. (cells printed by `antares.digest`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from winjobs.antares.digest import flow_cell
from winjobs.antares.mcall import statistic
from winjobs.antares.stats import Summary
from winjobs.antares.textnum import render_block
from winjobs.antares.variables import Variable
from winjobs.standin.system import System
from winjobs.standin.tables import TableSpec


@dataclass(frozen=True)
class DigestRow:
    """One object's annual first statistics (`values[j]` for `variables[j]`)."""

    name: str
    variables: tuple[Variable, ...]
    values: npt.NDArray[np.float64]
    not_applicable: npt.NDArray[np.bool_]


def digest_row(name: str, spec: TableSpec | None, annual: Summary | None) -> DigestRow:
    """The first mc-all statistic of every variable of a values spec (one row); an empty
    row when no variable is printed (`spec` None). An object whose synthesis filter drops
    the annual period prints 0 everywhere: the real 8.8 solver never computes the filtered
    statistics but still lists the object."""
    if spec is None or annual is None:
        return DigestRow(name, (), np.zeros(0), np.zeros(0, dtype=bool))
    if "annual" not in spec.synthesis:
        zeros = np.zeros(len(spec.variables), dtype=np.float64)
        return DigestRow(name, spec.variables, zeros, np.array(spec.na, dtype=bool))
    values = np.array(
        [
            statistic(annual, v.mc_all_columns()[0].stat, v.rule, "annual")[0, j]
            for j, v in enumerate(spec.variables)
        ],
        dtype=np.float64,
    )
    return DigestRow(name, spec.variables, values, np.array(spec.na, dtype=bool))


def _block(rows: Sequence[DigestRow], nb_links: int) -> list[str]:
    """One block; rows without variables (nothing printed) still list their objects."""
    variables = rows[0].variables if rows else ()
    lines = ["\tdigest", "\tVARIABLES\tAREAS\tLINKS"]
    lines += [f"\t{len(variables)}\t{len(rows)}\t{nb_links}", ""]
    lines.append("\t" + "".join("\t" + v.caption for v in variables))
    lines.append("\t" + "".join("\t" + v.unit for v in variables))
    lines.append("\t" + "".join("\t" + v.mc_all_columns()[0].stat for v in variables))
    decimals = np.array([v.decimals for v in variables], dtype=np.int64)
    for row in rows:
        if not variables:
            lines.append(f"\t{row.name}")
            continue
        missing = row.not_applicable.reshape(1, -1)
        text = render_block(
            [row.name], row.values.reshape(1, -1), decimals, missing if missing.any() else None
        )
        lines.append(text.decode("utf-8").rstrip("\n"))
    return lines


def _matrix(system: System, title: str, flows: dict[tuple[str, str], float]) -> list[str]:
    ids = [area.id for area in system.areas]
    lines = [f"\tLinks ({title})", "\t\tFrom...", "\t...To" + "".join("\t" + i for i in ids)]
    for to in ids:
        lines.append(f"\t{to}" + "".join("\t" + flow_cell(flows, s, to) for s in ids))
    return lines


def digest_text(
    system: System,
    areas: Sequence[DigestRow],
    districts: Sequence[DigestRow],
    matrices: dict[str, dict[tuple[str, str], float]],
) -> str:
    """The whole file; `matrices[caption][(origin id, extremity id)]` is a link's annual
    flow for each printed flow variable."""
    lines = [*_block(areas, len(system.links)), "", ""]
    lines += [*_block(districts, len(system.links)), "", ""]
    for title, flows in matrices.items():
        lines += ["", "", "", "", *_matrix(system, title, flows)]
    return "\n".join(lines) + "\n"

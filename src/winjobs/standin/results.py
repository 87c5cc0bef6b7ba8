"""The values/details/id files of a run: mc-ind per year and mc-all for the run.

Which variables, in which order, with which captions, units, decimals and statistics
comes from the catalogue (`winjobs.antares.variables`); how statistics are computed
from years (`winjobs.antares.stats.synthesis_from_years`) and which number goes under
which sub-column (`winjobs.antares.mcall`) come from the output layer; the text format
from `winjobs.antares.values.OutputTable`. This module only arranges the stand-in's
synthetic years into those tables and writes them where the real solver does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from winjobs.antares.calendar import PERIODS
from winjobs.antares.mcall import id_matrix, mc_all_matrix
from winjobs.antares.stats import Summary, pool, synthesis_from_years
from winjobs.antares.values import OutputTable, table_file_name
from winjobs.antares.variables import DETAILS_VARIABLES, Column, Rule, Variable, variable
from winjobs.standin.data import (
    AREA_VARIABLES,
    DETAIL_VARIABLES,
    LINK_VARIABLES,
    Area,
    System,
    TimeRule,
    YearResults,
    aggregate,
)
from winjobs.standin.digest import digest_row, digest_text
from winjobs.standin.model import RunSettings

FloatArray = npt.NDArray[np.float64]


def _catalogued(caption: str) -> Variable:
    found = variable(caption)
    if found is None:  # pragma: no cover - guarded by a unit test over the variable lists
        raise KeyError(f"{caption!r} is not in the variable catalogue")
    return found


AREA_CATALOGUE: tuple[Variable, ...] = tuple(_catalogued(c) for c, _ in AREA_VARIABLES)
LINK_CATALOGUE: tuple[Variable, ...] = tuple(_catalogued(c) for c, _ in LINK_VARIABLES)
_DETAIL_UNITS = {v.unit: v for v in DETAILS_VARIABLES}


def emitted_variables() -> list[tuple[str, list[str]]]:
    """What the stand-in writes, for its log's variable list."""
    return [
        ("Areas", [v.caption for v in AREA_CATALOGUE]),
        ("Links", [v.caption for v in LINK_CATALOGUE]),
        ("Thermal clusters (details)", [unit for unit, _ in DETAIL_VARIABLES]),
    ]


def detail_variables(area: Area) -> list[Variable]:
    """details columns: every per-plant variable, for each cluster (variable-major)."""
    return [
        Variable(cluster.name, unit, _DETAIL_UNITS[unit].decimals, Rule.EXP_ONLY)
        for unit, _ in DETAIL_VARIABLES
        for cluster in area.clusters
    ]


@dataclass(frozen=True)
class TableSpec:
    """One file family of one object: where it goes and how its header reads."""

    folder: str  # "areas/sink 1", "links/sink 1 - source"
    kind: str  # "values" | "details"
    name: str
    data_level: str
    link_to: str
    variables: tuple[Variable, ...]


def table_specs(system: System) -> list[TableSpec]:
    specs = []
    for area in system.areas:
        specs.append(TableSpec(f"areas/{area.id}", "values", area.name, "area", "",
                               AREA_CATALOGUE))  # fmt: skip
        if area.clusters:
            specs.append(TableSpec(f"areas/{area.id}", "details", area.name, "area", "",
                                   tuple(detail_variables(area))))  # fmt: skip
    for link in system.links:
        specs.append(TableSpec(f"links/{link.folder}", "values", link.origin.name, "link",
                               link.extremity.name, LINK_CATALOGUE))  # fmt: skip
    for district in system.districts:
        # The real 8.8 files name every set of areas `system` in their first cell.
        specs.append(TableSpec(f"areas/{district.folder}", "values", "system", "set of areas",
                               "", AREA_CATALOGUE))  # fmt: skip
    return specs


def _hourly_columns(spec: TableSpec, system: System, results: YearResults) -> list[
    tuple[FloatArray, TimeRule]
]:  # fmt: skip
    area_id = spec.folder.split("/", 1)[1]
    if spec.data_level == "set of areas":
        values = results.districts[area_id.removeprefix("@ ")]
        return [(values[caption], rule) for caption, rule in AREA_VARIABLES]
    if spec.data_level == "link":
        values = results.links[area_id]
        return [(values[caption], rule) for caption, rule in LINK_VARIABLES]
    if spec.kind == "details":
        area = next(a for a in system.areas if a.id == area_id)
        details = results.details[area_id]
        return [
            (details[(cluster.name, unit)], rule)
            for unit, rule in DETAIL_VARIABLES
            for cluster in area.clusters
        ]
    values = results.areas[area_id]
    return [(values[caption], rule) for caption, rule in AREA_VARIABLES]


def year_tables(system: System, results: YearResults) -> dict[tuple[str, str, str], FloatArray]:
    """The year's exact values per (folder, kind, period): rows x columns matrices."""
    tables: dict[tuple[str, str, str], FloatArray] = {}
    for spec in table_specs(system):
        columns = _hourly_columns(spec, system, results)
        hourly = np.column_stack([values for values, _ in columns])
        rules = [rule for _, rule in columns]
        for period in PERIODS:
            tables[(spec.folder, spec.kind, period)] = aggregate(
                hourly, rules, system.calendar, period
            )
    return tables


def write_year(year_dir: Path, settings: RunSettings, tables: dict[tuple[str, str, str],
               FloatArray]) -> None:  # fmt: skip
    """mc-ind/NNNNN/: the year's values and details files (no id files, no grid)."""
    system = settings.system
    for spec in table_specs(system):
        columns = [v.mc_ind_column() for v in spec.variables]
        for period in PERIODS:
            values = tables[(spec.folder, spec.kind, period)]
            table = OutputTable.build(
                spec.name,
                kind=spec.kind,
                period=period,
                calendar=system.calendar,
                columns=columns,
                values=values,
                data_level=spec.data_level,
                link_to=spec.link_to,
                not_applicable=_not_applicable(values),
            )
            table.write(year_dir / spec.folder / table_file_name(spec.kind, period))


def _not_applicable(values: FloatArray) -> npt.NDArray[np.bool_] | None:
    """NaN cells print `N/A` (a variable that does not apply, like H. VAL without a
    reservoir); None when there are none, the common case."""
    missing = np.isnan(values)
    return missing if missing.any() else None


def _id_not_applicable(
    variables: tuple[Variable, ...], exp: FloatArray
) -> npt.NDArray[np.bool_] | None:
    """id columns (min and max year of each FULL variable) of N/A cells print `N/A`."""
    blocks = [np.isnan(exp[:, j]) for j, v in enumerate(variables) if v.rule is Rule.FULL]
    if not blocks:
        return None
    missing = np.repeat(np.column_stack(blocks), 2, axis=1)
    return missing if missing.any() else None


#: Years kept in memory before their statistics are folded into the running summary.
CHUNK_YEARS = 32

TableKey = tuple[str, str, str]


@dataclass
class Synthesis:
    """Collects each finished year's exact tables and writes mc-all from them.

    Up to `CHUNK_YEARS` years, statistics come from one `synthesis_from_years` over all
    of them (the solver's own arithmetic). Longer runs fold each chunk into a running
    summary with `stats.pool`, so memory stays bounded by the chunk whatever `nbyears`
    (a 1000-year study would otherwise hold gigabytes of hourly tables).
    """

    settings: RunSettings
    pending: dict[int, dict[TableKey, FloatArray]] = field(default_factory=dict)
    folded: dict[TableKey, Summary] = field(default_factory=dict)

    def add(self, year: int, tables: dict[TableKey, FloatArray]) -> None:
        self.pending[year] = tables
        if len(self.pending) >= CHUNK_YEARS:
            self._fold()

    def _fold(self) -> None:
        played = sorted(self.pending)
        ids = [year + 1 for year in played]
        weights = [self.settings.weights.get(year, 1.0) for year in played]
        for key in self.pending[played[0]]:
            stacked = np.stack([self.pending[year][key] for year in played])
            summary = synthesis_from_years(stacked, ids, weights)
            previous = self.folded.get(key)
            self.folded[key] = summary if previous is None else pool([previous, summary])
        self.pending.clear()

    def write(self, mc_all: Path) -> None:
        if self.pending:
            self._fold()
        if not self.folded:
            return
        for spec in table_specs(self.settings.system):
            for period in PERIODS:
                summary = self.folded[(spec.folder, spec.kind, period)]
                columns, values = mc_all_matrix(spec.variables, summary, period)
                self._table(spec, period, columns, values, _not_applicable(values)).write(
                    mc_all / spec.folder / table_file_name(spec.kind, period)
                )
                if spec.kind == "values":
                    id_columns, id_values = id_matrix(spec.variables, summary)
                    missing = _id_not_applicable(spec.variables, summary.exp)
                    self._table(spec, period, id_columns, id_values, missing, kind="id").write(
                        mc_all / spec.folder / table_file_name("id", period)
                    )
        self._write_digest(mc_all / "grid" / "digest.txt")

    def _write_digest(self, path: Path) -> None:
        system = self.settings.system
        areas, districts = [], []
        for area in system.areas:
            annual = self.folded[(f"areas/{area.id}", "values", "annual")]
            areas.append(digest_row(area.id, AREA_CATALOGUE, annual))
        for district in system.districts:
            annual = self.folded[(f"areas/{district.folder}", "values", "annual")]
            districts.append(digest_row(district.folder, AREA_CATALOGUE, annual))
        flows = {}
        for link in system.links:
            annual = self.folded[(f"links/{link.folder}", "values", "annual")]
            flows[(link.origin.id, link.extremity.id)] = float(annual.exp[0, 0])
        path.parent.mkdir(parents=True, exist_ok=True)
        text = digest_text(system, areas, districts, flows)
        path.write_text(text, encoding="utf-8", newline="\n")

    def _table(
        self,
        spec: TableSpec,
        period: str,
        columns: list[Column],
        values: FloatArray,
        not_applicable: npt.NDArray[np.bool_] | None,
        kind: str | None = None,
    ) -> OutputTable:
        return OutputTable.build(
            spec.name,
            kind=kind or spec.kind,
            period=period,
            calendar=self.settings.system.calendar,
            columns=columns,
            values=values,
            data_level=spec.data_level,
            link_to=spec.link_to,
            not_applicable=not_applicable,
        )

"""The values/details/id files of a run: mc-ind per year and mc-all for the run.

Which files and columns come from `tables` (the real solver's lists and filters); how
statistics are computed from years (`winjobs.antares.stats.synthesis_from_years`) and
which number goes under which sub-column (`winjobs.antares.mcall`) from the output layer;
the text format from `winjobs.antares.values.OutputTable`. A year's numbers are kept for
its "live" columns only (those the stand-in simulates); every other printed column is
zero, so its mc-all statistics are zeros and its min/max year the first played year,
exactly what the solver prints for a column that stays at 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from winjobs.antares.calendar import PERIODS
from winjobs.antares.mcall import id_matrix, mc_all_matrix
from winjobs.antares.stats import Summary, pool, synthesis_from_years
from winjobs.antares.values import OutputTable, table_file_name
from winjobs.antares.variables import MC_ALL_STATS, Column, Rule
from winjobs.standin.aggregate import FloatArray, aggregate, time_rule
from winjobs.standin.calendar import nb_hours
from winjobs.standin.catalogue import DETAILS, DETAILS_RES, DETAILS_STS
from winjobs.standin.data import YearResults
from winjobs.standin.digest import digest_row, digest_text
from winjobs.standin.model import RunSettings
from winjobs.standin.tables import BINDING_CONSTRAINTS, TableSpec, table_specs

#: Columns the solver fills after all years only (mc-ind prints 0): the quadratic flows.
MC_ALL_ONLY = frozenset({"FLOW QUAD."})
#: Bytes of year tables kept before their statistics are folded into the running summary.
MEMORY_BUDGET = 96 * 2**20
_MAX_CHUNK_YEARS = 32

SpecKey = tuple[str, str]  # (folder, kind)


@dataclass(frozen=True)
class YearTable:
    """One spec's numbers for one year: the live columns' positions, and per period a
    rows x live-columns matrix (exact, not rounded)."""

    live: tuple[int, ...]
    periods: Mapping[str, FloatArray]


def _source(results: YearResults, spec: TableSpec) -> Mapping[Any, FloatArray]:
    """The dict of a year's results that holds a spec's columns (keys: `Key`)."""
    obj = spec.folder.split("/", 1)[-1]
    if spec.kind == BINDING_CONSTRAINTS:
        return results.constraints
    if spec.kind in (DETAILS, DETAILS_RES, DETAILS_STS):
        plants = {DETAILS: results.details, DETAILS_RES: results.renewables}
        return plants.get(spec.kind, results.storages).get(obj, {})
    if spec.folder.startswith("links/"):
        return results.links.get(obj, {})
    if obj.startswith("@ "):
        return results.districts.get(obj[2:], {})
    return results.areas.get(obj, {})


def year_tables(
    settings: RunSettings, specs: list[TableSpec], results: YearResults
) -> dict[SpecKey, YearTable]:
    """The year's exact numbers for every spec and period."""
    calendar = settings.system.calendar
    tables: dict[SpecKey, YearTable] = {}
    for spec in specs:
        source = _source(results, spec)
        live = tuple(j for j, key in enumerate(spec.keys) if key in source)
        if live:
            hourly = np.column_stack([source[spec.keys[j]] for j in live])
        else:
            hourly = np.zeros((nb_hours(calendar), 0))
        bc = spec.kind == BINDING_CONSTRAINTS
        rules = [time_rule(spec.keys[j], constraint=bc) for j in live]
        periods: dict[str, FloatArray] = {p: aggregate(hourly, rules, calendar, p) for p in PERIODS}
        tables[(spec.folder, spec.kind)] = YearTable(live, periods)
    return tables


def _expand(matrix: FloatArray, live: tuple[int, ...], width: int) -> FloatArray:
    full = np.zeros((matrix.shape[0], width))
    if live:
        full[:, list(live)] = matrix
    return full


def _na_mask(flags: npt.NDArray[np.bool_], rows: int) -> npt.NDArray[np.bool_] | None:
    if not flags.any():
        return None
    return np.broadcast_to(flags, (rows, flags.size)).copy()


def write_year(year_dir: Path, settings: RunSettings, specs: list[TableSpec],
               tables: dict[SpecKey, YearTable]) -> None:  # fmt: skip
    """mc-ind/NNNNN/: the year's values, details and binding-constraints files (no id
    files, no grid), at the periods each object's year-by-year filter keeps."""
    calendar = settings.system.calendar
    unit = ""  # the unit of the last column written, as the solver carries it along
    for spec in specs:
        table = tables[(spec.folder, spec.kind)]
        for period in PERIODS:
            columns = spec.columns(period)
            if period not in spec.year_by_year or not columns:
                continue
            full = _expand(table.periods[period], table.live, len(spec.variables))
            for j, key in enumerate(spec.keys):
                if key in MC_ALL_ONLY:
                    full[:, j] = 0.0
            headers = []
            for j in columns:
                column = spec.variables[j].mc_ind_column()
                if spec.carried_unit and spec.carried_unit[j]:
                    column = replace(column, unit=unit)
                headers.append(column)
                unit = column.unit
            OutputTable.build(
                spec.name,
                kind=spec.kind,
                period=period,
                calendar=calendar,
                columns=headers,
                values=full[:, columns],
                data_level=spec.data_level,
                link_to=spec.link_to,
                not_applicable=_na_mask(spec.not_applicable(period, columns), full.shape[0]),
            ).write(year_dir / spec.folder / table_file_name(spec.kind, period))


def _chunk_years(tables: dict[SpecKey, YearTable]) -> int:
    size = sum(m.nbytes for t in tables.values() for m in t.periods.values())
    return max(1, min(_MAX_CHUNK_YEARS, MEMORY_BUDGET // max(size, 1)))


def _expand_summary(summary: Summary, live: tuple[int, ...], width: int, first: int) -> Summary:
    """A summary over every column: the live ones' statistics, zeros elsewhere (min/max
    year: the first played year, where the solver's scan leaves a constant column)."""
    rows = summary.exp.shape[0]

    def spread(values: FloatArray, fill: float) -> FloatArray:
        full = np.full((rows, width), fill)
        if live:
            full[:, list(live)] = values
        return full

    years = np.full((rows, width), first, dtype=np.int64)
    low_year, high_year = years.copy(), years
    if live:
        low_year[:, list(live)] = summary.min_year
        high_year[:, list(live)] = summary.max_year
    return replace(
        summary,
        exp=spread(summary.exp, 0.0),
        std=spread(summary.std, 0.0),
        min=spread(summary.min, 0.0),
        max=spread(summary.max, 0.0),
        share=spread(summary.share, 0.0),
        min_year=low_year,
        max_year=high_year,
    )


def _mask(spec: TableSpec, period: str, columns: list[int], rows: int,
          rules: Mapping[Rule, tuple[str, ...]]) -> npt.NDArray[np.bool_] | None:  # fmt: skip
    """The N/A mask of an mc-all (or id) table: each variable's flag on its sub-columns."""
    flags = spec.not_applicable(period, columns)
    repeated = [f for j, f in zip(columns, flags, strict=True)
                for _ in rules.get(spec.variables[j].rule, ())]  # fmt: skip
    return _na_mask(np.array(repeated, dtype=bool), rows)


_ID_RULES = {Rule.FULL: ("min", "max")}


@dataclass
class Synthesis:
    """Collects each finished year's tables and writes mc-all from them.

    Statistics come from `synthesis_from_years` (the solver's own arithmetic) over chunks
    of years, folded with `stats.pool` into a running summary; a chunk holds as many years
    as fit `MEMORY_BUDGET` (at most 32), so memory stays bounded whatever `nbyears`.
    """

    settings: RunSettings
    specs: list[TableSpec] = field(default_factory=list)
    pending: dict[int, dict[SpecKey, YearTable]] = field(default_factory=dict)
    folded: dict[tuple[str, str, str], Summary] = field(default_factory=dict)
    live: dict[SpecKey, tuple[int, ...]] = field(default_factory=dict)
    #: The unit of the last column written, which the solver's binding-constraints mc-all
    #: files print for every constraint (it never sets their own).
    unit: str = ""

    def __post_init__(self) -> None:
        if not self.specs:
            self.specs = table_specs(self.settings.system, self.settings.lists)

    def add(self, year: int, tables: dict[SpecKey, YearTable]) -> None:
        self.pending[year] = tables
        if len(self.pending) >= _chunk_years(tables):
            self._fold()

    def _fold(self) -> None:
        played = sorted(self.pending)
        ids = [year + 1 for year in played]
        weights = [self.settings.weights.get(year, 1.0) for year in played]
        for key, first in self.pending[played[0]].items():
            self.live[key] = first.live
            for period in PERIODS:
                stacked = np.stack([self.pending[y][key].periods[period] for y in played])
                summary = synthesis_from_years(stacked, ids, weights)
                previous = self.folded.get((*key, period))
                self.folded[(*key, period)] = (
                    summary if previous is None else pool([previous, summary])
                )
        self.pending.clear()

    def summary(self, spec: TableSpec, period: str) -> Summary:
        """Statistics over every column of a spec (see `_expand_summary`)."""
        key = (spec.folder, spec.kind)
        first = min(self.settings.years) + 1
        return _expand_summary(
            self.folded[(*key, period)], self.live[key], len(spec.variables), first
        )

    def write(self, mc_all: Path, *, digest: bool = True) -> None:
        """mc-all's tables (and grid/digest.txt unless `digest` is False)."""
        if self.pending:
            self._fold()
        if not self.folded:
            return
        quadratic = self._quadratic_flows()
        for spec in self.specs:
            for period in PERIODS:
                columns = spec.columns(period)
                if period not in spec.synthesis or not columns:
                    continue
                summary = quadratic.get((spec.folder, period)) or self.summary(spec, period)
                self._write_tables(mc_all, spec, period, columns, summary)
        if digest:
            self._write_digest(mc_all / "grid" / "digest.txt", quadratic)

    def write_digest(self, mc_all: Path) -> None:
        """mc-all/grid/digest.txt alone (after `write(..., digest=False)`)."""
        if self.folded:
            self._write_digest(mc_all / "grid" / "digest.txt", self._quadratic_flows())

    def _quadratic_flows(self) -> dict[tuple[str, str], Summary]:
        """Link summaries whose FLOW QUAD. column holds the mean linear flow (the solver's
        quadratic step on the average balances, when some link has impedances), or 0."""
        found: dict[tuple[str, str], Summary] = {}
        for spec in self.specs:
            if "FLOW QUAD." not in spec.keys:
                continue
            quad = spec.keys.index("FLOW QUAD.")
            for period in PERIODS:
                summary = self.summary(spec, period)
                if not self.settings.system.quadratic:
                    summary.exp[:, quad] = 0.0
                found[(spec.folder, period)] = summary
        return found

    def _write_tables(self, mc_all: Path, spec: TableSpec, period: str, columns: list[int],
                      summary: Summary) -> None:  # fmt: skip
        variables = [spec.variables[j] for j in columns]
        part = _columns_of(summary, columns)
        rows = part.exp.shape[0]
        headers, values = mc_all_matrix(variables, part, period)
        if spec.kind == BINDING_CONSTRAINTS:  # the solver leaves the unit written before
            headers = [replace(h, unit=self.unit) for h in headers]
        self.unit = headers[-1].unit
        folder = mc_all / spec.folder
        self._table(spec, period, headers, values, _mask(spec, period, columns, rows,
                    MC_ALL_STATS)).write(folder / table_file_name(spec.kind, period))  # fmt: skip
        if spec.kind != "values":
            return
        id_headers, id_values = id_matrix(variables, part)
        if id_headers:
            self.unit = id_headers[-1].unit
            missing = _mask(spec, period, columns, rows, _ID_RULES)
            self._table(spec, period, id_headers, id_values, missing, kind="id").write(
                folder / table_file_name("id", period)
            )

    def _write_digest(self, path: Path, quadratic: dict[tuple[str, str], Summary]) -> None:
        system = self.settings.system
        by_folder = {spec.folder: spec for spec in self.specs if spec.kind == "values"}
        areas, districts = [], []
        for area in system.areas:
            spec = by_folder.get(f"areas/{area.id}")
            annual = self.summary(spec, "annual") if spec else None
            areas.append(digest_row(area.id, spec, annual))
        for district in system.districts:
            spec = by_folder.get(f"areas/{district.folder}")
            annual = self.summary(spec, "annual") if spec else None
            districts.append(digest_row(f"@ {district.caption}", spec, annual))
        matrices: dict[str, dict[tuple[str, str], float]] = {}
        for caption in ("FLOW LIN.", "FLOW QUAD."):
            if caption not in self.settings.selection:
                continue
            matrices[caption] = {}
            for link in system.links:
                spec = by_folder.get(f"links/{link.folder}")
                if spec is None or caption not in spec.keys:
                    continue
                summary = quadratic.get((spec.folder, "annual")) or self.summary(spec, "annual")
                filtered = "annual" not in spec.synthesis  # never computed: 0, as the solver
                value = 0.0 if filtered else float(summary.exp[0, spec.keys.index(caption)])
                matrices[caption][(link.origin.id, link.extremity.id)] = value
        path.parent.mkdir(parents=True, exist_ok=True)
        text = digest_text(system, areas, districts, matrices)
        path.write_text(text, encoding="utf-8", newline="\n")

    def _table(self, spec: TableSpec, period: str, columns: list[Column], values: FloatArray,
               not_applicable: npt.NDArray[np.bool_] | None,
               kind: str | None = None) -> OutputTable:  # fmt: skip
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


def _columns_of(summary: Summary, columns: list[int]) -> Summary:
    if len(columns) == summary.exp.shape[1]:
        return summary
    return replace(
        summary,
        exp=summary.exp[:, columns],
        std=summary.std[:, columns],
        min=summary.min[:, columns],
        max=summary.max[:, columns],
        share=summary.share[:, columns],
        min_year=summary.min_year[:, columns],
        max_year=summary.max_year[:, columns],
    )

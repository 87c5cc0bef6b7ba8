"""Which files a run writes, with which columns: one `TableSpec` per file family.

From the printed variable lists (`catalogue`) and the study's objects (`system`), in the
order the real solver writes and logs them: every area (values, details, details-res,
details-STstorage), every link, every district, then the binding constraints. A spec
knows its columns (caption, unit, decimals, statistics), where each column's numbers come
from (`keys`), which columns print `N/A`, and at which periods its mc-all and mc-ind
files exist (geographic trimming; a binding constraint's own filter).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from winjobs.antares.calendar import PERIODS
from winjobs.antares.variables import Rule, Variable, variable
from winjobs.standin.aggregate import Key
from winjobs.standin.catalogue import (
    BC_MARGINAL_COST,
    DETAILS,
    DETAILS_RES,
    DETAILS_STS,
    VALUES,
    Entry,
    Lists,
)
from winjobs.standin.system import ALL_PERIODS, Area, Constraint, Periods, System

BINDING_CONSTRAINTS = "binding-constraints"
_RANK: dict[str, int] = {period: rank for rank, period in enumerate(PERIODS)}


@dataclass(frozen=True)
class TableSpec:
    """One file family of one object (its five periods)."""

    folder: str  # "areas/sink 1", "links/sink 1 - source", "areas/@ all", "binding_constraints"
    kind: str  # values | details | details-res | details-STstorage | binding-constraints
    name: str  # first cell of line 1 ("Sink 1", or "system")
    data_level: str  # area | link | set of areas | 0
    link_to: str
    variables: tuple[Variable, ...]
    keys: tuple[Key, ...]
    na: tuple[bool, ...]  # column prints N/A in every cell
    #: mc-ind only: columns printed with the unit of the column written before them (a
    #: district's multi-column variables: the 8.8 solver does not set their unit there).
    carried_unit: tuple[bool, ...] = ()
    synthesis: Periods = ALL_PERIODS
    year_by_year: Periods = ALL_PERIODS
    constraints: tuple[Constraint, ...] = field(default=())

    @property
    def source(self) -> tuple[str, str]:
        """Which dict of a year's results holds the numbers: (family, object)."""
        return self.kind, self.folder

    def columns(self, period: str) -> list[int]:
        """The columns printed at `period` (binding constraints: their own filter)."""
        if not self.constraints:
            return list(range(len(self.variables)))
        return [j for j, c in enumerate(self.constraints) if period in c.year_by_year]

    def not_applicable(self, period: str, columns: list[int]) -> npt.NDArray[np.bool_]:
        """N/A flag of each printed column: static, or for a binding constraint a period
        finer than its type."""
        if self.constraints:
            return np.array([_RANK[period] < _RANK[self.constraints[j].type] for j in columns])
        return np.array([self.na[j] for j in columns], dtype=bool)


def _variable(entry: Entry) -> Variable:
    found = variable(entry.caption)
    if found is None:  # pragma: no cover - guarded by a unit test over the lists
        raise KeyError(f"{entry.caption!r} is not in the variable catalogue")
    return found


def _values_spec(folder: str, name: str, level: str, entries: tuple[Entry, ...], *,
                 na: bool, link_to: str = "") -> TableSpec:  # fmt: skip
    values = [e for e in entries if e.kind == VALUES]
    district = level == "set of areas"
    return TableSpec(
        folder, VALUES, name, level, link_to,
        variables=tuple(_variable(e) for e in values),
        keys=tuple(e.caption for e in values),
        na=tuple(na and e.possibly_na for e in values),
        carried_unit=tuple(district and e.multiple for e in values),
    )  # fmt: skip


def _plants(area: Area, kind: str) -> list[str]:
    if kind == DETAILS:
        return [c.name for c in area.clusters]
    if kind == DETAILS_RES:
        return [r.name for r in area.renewables]
    return [s.name for s in area.storages]


def _plant_spec(area: Area, kind: str, entries: tuple[Entry, ...]) -> TableSpec | None:
    """A details file: each printed per-plant variable, one column per plant."""
    plants = _plants(area, kind)
    units = [e.caption for e in entries if e.kind == kind]
    if not plants or not units:
        return None
    return TableSpec(
        f"areas/{area.id}", kind, area.name, "area", "",
        variables=tuple(Variable(p, u, 0, Rule.EXP_ONLY) for u in units for p in plants),
        keys=tuple((u, p) for u in units for p in plants),
        na=(False,) * (len(units) * len(plants)),
    )  # fmt: skip


def _with_filters(spec: TableSpec, synthesis: Periods, year_by_year: Periods) -> TableSpec:
    return replace(spec, synthesis=synthesis, year_by_year=year_by_year)


def area_specs(system: System, lists: Lists) -> list[TableSpec]:
    specs: list[TableSpec] = []
    for area in system.areas if lists.zonal else ():
        found: list[TableSpec | None] = [
            _values_spec(f"areas/{area.id}", area.name, "area", lists.area, na=not area.reservoir),
            *(_plant_spec(area, kind, lists.area) for kind in (DETAILS, DETAILS_RES, DETAILS_STS)),
        ]
        specs += [_with_filters(s, area.synthesis, area.year_by_year) for s in found if s]
    return specs


def link_specs(system: System, lists: Lists) -> list[TableSpec]:
    if not lists.links:
        return []
    return [
        _with_filters(
            _values_spec(
                f"links/{link.folder}",
                link.origin.name,
                "link",
                lists.link,
                na=False,
                link_to=link.extremity.name,
            ),
            link.synthesis,
            link.year_by_year,
        )
        for link in system.links
    ]


def district_specs(system: System, lists: Lists) -> list[TableSpec]:
    if not lists.zonal:
        return []
    return [
        _values_spec(f"areas/{d.folder}", "system", "set of areas", lists.district, na=True)
        for d in system.districts
    ]


def constraint_spec(system: System, lists: Lists) -> TableSpec | None:
    """The binding-constraints files: one column per constraint; the solver filters mc-all
    with the year-by-year filter too (8.8 behaviour)."""
    if not lists.binding_constraints or not system.constraints:
        return None
    cost = variable(BC_MARGINAL_COST)
    assert cost is not None
    periods = frozenset(p for c in system.constraints for p in c.year_by_year)
    return TableSpec(
        "binding_constraints", BINDING_CONSTRAINTS, "system", "0", "",
        variables=tuple(Variable(c.caption, cost.unit, cost.decimals, cost.rule)
                        for c in system.constraints),
        keys=tuple(c.caption for c in system.constraints),
        na=(False,) * len(system.constraints),
        synthesis=periods, year_by_year=periods, constraints=system.constraints,
    )  # fmt: skip


def table_specs(system: System, lists: Lists) -> list[TableSpec]:
    """Every file family of a run, in the solver's writing order."""
    bc = constraint_spec(system, lists)
    return [
        *area_specs(system, lists),
        *link_specs(system, lists),
        *district_specs(system, lists),
        *([bc] if bc else []),
    ]


def exported_names(system: System, lists: Lists, *, synthesis: bool) -> list[str]:
    """`Exporting results : X` lines of one export (mc-all, or one year's mc-ind): areas
    and links whose filter leaves some period, districts, then `binding constraints`."""

    names = []
    if lists.zonal:
        names += [a.name for a in system.areas
                  if (a.synthesis if synthesis else a.year_by_year)]  # fmt: skip
    if lists.links:
        names += [f"{k.origin.name} - {k.extremity.name}" for k in system.links
                  if (k.synthesis if synthesis else k.year_by_year)]  # fmt: skip
    if lists.zonal:
        names += [d.caption for d in system.districts]
    return [*names, "binding constraints"]

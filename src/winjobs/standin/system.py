"""The objects of a study as a run of the stand-in sees them (read by `inputs.py`).

Names, ids and orders follow the real 8.8 solver: areas sorted by id; thermal and
renewable clusters named by their `list.ini` section and sorted by id; short-term
storages named by their `name` key and sorted by it; links by origin then extremity;
districts and binding constraints as `sets.ini` and `bindingconstraints.ini` say.
"""

from __future__ import annotations

from dataclasses import dataclass

from winjobs.antares.calendar import PERIODS, Calendar

Periods = frozenset[str]
ALL_PERIODS: Periods = frozenset(PERIODS)


@dataclass(frozen=True)
class Cluster:
    """A thermal cluster: its details caption, id, output group column and size."""

    name: str
    unit_count: int
    nominal_capacity: float
    group: str = "MISC. DTG"  # the area column its output adds to
    id: str = ""
    generation: str = "global"  # gen-ts: "global" (use global), "force", "never"
    must_run: bool = False  # in details files all the same; not in binding constraints

    @property
    def ident(self) -> str:
        return self.id or self.name.lower()


@dataclass(frozen=True)
class Renewable:
    """A renewable cluster (`renewable-generation-modelling = clusters` only)."""

    name: str
    id: str
    group: str  # WIND ONSHORE, SOLAR PV...
    capacity: float


@dataclass(frozen=True)
class Storage:
    """A short-term storage: details caption, group and sizes."""

    name: str
    id: str
    group: str  # PSP_open, Battery...
    injection: float
    withdrawal: float
    reservoir: float


@dataclass(frozen=True)
class Area:
    name: str  # as in input/areas/list.txt ("Sink 1")
    id: str  # folder name ("sink 1")
    unsupplied_cost: float = 3000.0
    spilled_cost: float = 0.0
    clusters: tuple[Cluster, ...] = ()
    reservoir: bool = False  # hydro reservoir management: H. LEV/H. OVFL/H. VAL N/A without
    renewables: tuple[Renewable, ...] = ()
    storages: tuple[Storage, ...] = ()
    synthesis: Periods = ALL_PERIODS  # geographic trimming: which mc-all files
    year_by_year: Periods = ALL_PERIODS  # ... and which mc-ind files


@dataclass(frozen=True)
class Link:
    origin: Area
    extremity: Area
    synthesis: Periods = ALL_PERIODS
    year_by_year: Periods = ALL_PERIODS
    impedance: bool = False  # non-zero impedances: the quadratic step runs (FLOW QUAD.)

    @property
    def folder(self) -> str:
        return f"{self.origin.id} - {self.extremity.id}"


@dataclass(frozen=True)
class District:
    """A set of areas with output (input/areas/sets.ini): `@ <id>` folders."""

    caption: str
    id: str
    members: tuple[str, ...]  # area ids

    @property
    def folder(self) -> str:
        return f"@ {self.id}"


@dataclass(frozen=True)
class Constraint:
    """An active inequality binding constraint: one column of the binding-constraints
    files (`name (<)`), printed at the periods of its year-by-year filter (which the 8.8
    solver also applies to mc-all), `N/A` at periods finer than its own type."""

    name: str
    operator: str  # "<" or ">"
    type: str  # hourly, daily or weekly
    year_by_year: Periods
    group: str

    @property
    def caption(self) -> str:
        return f"{self.name} ({self.operator})"


@dataclass(frozen=True)
class System:
    """What the generator knows of a study: its objects, calendar and input digest."""

    areas: tuple[Area, ...]
    links: tuple[Link, ...]
    calendar: Calendar
    digest: bytes
    mode: str
    districts: tuple[District, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    constraint_groups: tuple[str, ...] = ()  # every group of bindingconstraints.ini

    @property
    def quadratic(self) -> bool:
        """Whether the solver runs its quadratic step (some link has impedances)."""
        return any(link.impedance for link in self.links)

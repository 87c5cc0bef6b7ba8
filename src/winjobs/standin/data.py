"""Deterministic synthetic numbers for one MC year of a study.

Like the real solver, a year's results must depend only on the study's input, the mode
and the year index — never on the playlist, the weights, `year-by-year` or which other
years run — so that a year solved alone on one machine equals the same year in a full
run. Everything random is drawn from generators seeded by (input digest, mode, year):
the year's weather and outages, and, from (input digest, object) only, each area's and
link's size, which must not change from year to year.

The numbers are meant to look like a power system: load with daily, weekly and seasonal
shape; dispatchable capacity with outages; flows that share surpluses between areas up
to the link capacity (congestion); unsupplied energy in tight hours (LOLD/LOLP > 0 in
some years only); spillage with a zero or slightly negative price (`0`, `-0.00`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import numpy.typing as npt

from winjobs.antares.calendar import Calendar
from winjobs.standin.calendar import day_of_year, nb_hours, period_starts

FloatArray = npt.NDArray[np.float64]


class TimeRule(Enum):
    """How a year's hourly values become daily, weekly, monthly and annual values."""

    SUM = "sum"  # energies, costs, hours
    MEAN = "mean"  # prices, marginal costs
    ANY = "any"  # probabilities: 100 if any hour of the period is 100


@dataclass(frozen=True)
class Cluster:
    """A thermal cluster: its name as printed in details files, and its size."""

    name: str
    unit_count: int
    nominal_capacity: float


@dataclass(frozen=True)
class Area:
    name: str  # as in input/areas/list.txt ("Sink 1")
    id: str  # folder name ("sink 1")
    unsupplied_cost: float = 3000.0
    spilled_cost: float = 0.0
    clusters: tuple[Cluster, ...] = ()
    reservoir: bool = False  # hydro reservoir management: H. VAL is N/A without it


@dataclass(frozen=True)
class Link:
    origin: Area
    extremity: Area

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
class System:
    """What the generator knows of a study: its objects, calendar and input digest."""

    areas: tuple[Area, ...]
    links: tuple[Link, ...]
    calendar: Calendar
    digest: bytes
    mode: str
    districts: tuple[District, ...] = ()


# The variables the stand-in emits, in the real solver's column order, with the rule
# that turns hourly values into the other periods.
AREA_VARIABLES: tuple[tuple[str, TimeRule], ...] = (
    ("OV. COST", TimeRule.SUM),
    ("OP. COST", TimeRule.SUM),
    ("MRG. PRICE", TimeRule.MEAN),
    ("BALANCE", TimeRule.SUM),
    ("ROW BAL.", TimeRule.SUM),
    ("LOAD", TimeRule.SUM),
    ("H. VAL", TimeRule.MEAN),
    ("UNSP. ENRG", TimeRule.SUM),
    ("SPIL. ENRG", TimeRule.SUM),
    ("LOLD", TimeRule.SUM),
    ("LOLP", TimeRule.ANY),
    ("AVL DTG", TimeRule.SUM),
    ("DTG MRG", TimeRule.SUM),
)
LINK_VARIABLES: tuple[tuple[str, TimeRule], ...] = (
    ("FLOW LIN.", TimeRule.SUM),
    ("UCAP LIN.", TimeRule.SUM),
    ("LOOP FLOW", TimeRule.SUM),
    ("CONG. FEE (ALG.)", TimeRule.SUM),
    ("CONG. FEE (ABS.)", TimeRule.SUM),
    ("MARG. COST", TimeRule.MEAN),
    ("CONG. PROB +", TimeRule.ANY),
    ("CONG. PROB -", TimeRule.ANY),
)
# Per-cluster `details` variables: (caption of the unit row, rule).
DETAIL_VARIABLES: tuple[tuple[str, TimeRule], ...] = (
    ("MWh", TimeRule.SUM),
    ("NP Cost - Euro", TimeRule.SUM),
    ("NODU", TimeRule.SUM),
    ("Profit - Euro", TimeRule.SUM),
)


@dataclass
class YearResults:
    """Hourly values of one year: per area, per link, per area's clusters (details)."""

    year: int
    areas: dict[str, dict[str, FloatArray]] = field(default_factory=dict)
    links: dict[str, dict[str, FloatArray]] = field(default_factory=dict)
    details: dict[str, dict[tuple[str, str], FloatArray]] = field(default_factory=dict)
    districts: dict[str, dict[str, FloatArray]] = field(default_factory=dict)

    @property
    def system_cost(self) -> float:
        """The year's overall cost (annualSystemCost.txt): sum of the areas' OV. COST."""
        return float(sum(float(values["OV. COST"].sum()) for values in self.areas.values()))


def seeded_rng(digest: bytes, *labels: str | int) -> np.random.Generator:
    """A generator seeded by the digest and labels only (stable across machines)."""
    hasher = hashlib.sha256(digest)
    for label in labels:
        hasher.update(b"\0" + str(label).encode("utf-8"))
    entropy = int.from_bytes(hasher.digest()[:16], "little")
    return np.random.Generator(np.random.PCG64(entropy))


@dataclass(frozen=True)
class _AreaSize:
    """An area's structural parameters, the same every year."""

    load: float
    margin: float
    must_run: float
    row_balance: float


def _area_size(system: System, area: Area) -> _AreaSize:
    rng = seeded_rng(system.digest, "area-size", area.id)
    load = float(rng.uniform(400.0, 6000.0))
    installed = sum(c.unit_count * c.nominal_capacity for c in area.clusters)
    margin = float(rng.uniform(1.0, 1.12))
    row = float(rng.choice([0.0, 0.0, rng.uniform(-0.08, 0.08) * load]))
    must_run = float(rng.uniform(0.1, 0.45)) * load
    if installed > 0:  # a study with real clusters: scale the load to them
        load = installed / margin * float(rng.uniform(0.9, 1.1))
        must_run = float(rng.uniform(0.1, 0.45)) * load
    return _AreaSize(load, margin, must_run, round(row))


def _load_profile(calendar: Calendar, rng: np.random.Generator, size: float) -> FloatArray:
    """Daily (evening peak), weekly (weekend dip) and seasonal (winter peak) shape."""
    count = nb_hours(calendar)
    hour_of_day = np.arange(count) % 24
    day = day_of_year(calendar)
    daily = (
        1.0
        + 0.12 * np.sin(2 * np.pi * (hour_of_day - 9) / 24)
        + 0.06 * np.sin(2 * np.pi * (hour_of_day - 3) / 12)
    )
    weekly = np.where((day % 7) >= 5, 0.9, 1.0)
    seasonal = 1.0 + 0.22 * np.cos(2 * np.pi * (day - 15) / 365)
    weather = 1.0 + float(rng.normal(0.0, 0.03))
    noise = 1.0 + rng.normal(0.0, 0.025, count)
    return np.asarray(size * daily * weekly * seasonal * weather * noise, dtype=np.float64)


def _available_capacity(
    calendar: Calendar, rng: np.random.Generator, peak_load: float, margin: float
) -> FloatArray:
    """Dispatchable capacity: a margin over the peak, minus weekly planned/forced outages."""
    count = nb_hours(calendar)
    outage = rng.choice([0.0, 0.03, 0.06, 0.12], size=-(-count // 168), p=[0.5, 0.25, 0.17, 0.08])
    hourly_outage = np.repeat(outage, 168)[:count]
    forced = rng.uniform(0.0, 0.05, count)
    return np.asarray(peak_load * margin * (1.0 - hourly_outage - forced), dtype=np.float64)


def _must_run(calendar: Calendar, rng: np.random.Generator, size: float) -> FloatArray:
    """Must-run and renewable output: a solar-like day bell plus windy weeks."""
    count = nb_hours(calendar)
    sun = np.maximum(0.0, np.sin(np.pi * ((np.arange(count) % 24) - 6) / 12))
    wind = np.repeat(rng.gamma(2.0, 0.5, count // 24), 24)
    return np.asarray(size * (0.3 + 1.2 * sun + 0.6 * wind), dtype=np.float64)


def _link_capacity(system: System, link: Link, loads: dict[str, float]) -> float:
    rng = seeded_rng(system.digest, "link-size", link.folder)
    smaller = min(loads[link.origin.id], loads[link.extremity.id])
    return float(rng.uniform(0.08, 0.35)) * smaller


def simulate_year(system: System, year: int) -> YearResults:
    """The hourly results of `year` (0-based): a deterministic function of its inputs."""
    rng = seeded_rng(system.digest, "year", system.mode, year)
    calendar = system.calendar
    sizes = {area.id: _area_size(system, area) for area in system.areas}
    load = {a.id: _load_profile(calendar, rng, sizes[a.id].load) for a in system.areas}
    capacity = {
        a.id: _available_capacity(calendar, rng, float(load[a.id].max()), sizes[a.id].margin)
        for a in system.areas
    }
    must_run = {a.id: _must_run(calendar, rng, sizes[a.id].must_run) for a in system.areas}
    surplus = {a.id: capacity[a.id] + must_run[a.id] - load[a.id] for a in system.areas}

    flows: dict[str, FloatArray] = {}
    net_import = {a.id: np.zeros(nb_hours(calendar)) for a in system.areas}
    link_caps = {
        link.folder: _link_capacity(system, link, {k: v.load for k, v in sizes.items()})
        for link in system.links
    }
    for link in system.links:
        cap = link_caps[link.folder]
        origin, extremity = link.origin.id, link.extremity.id
        tightness = (
            surplus[origin] / load[origin].mean() - surplus[extremity] / load[extremity].mean()
        )
        push = 2.5 * cap * tightness + rng.normal(0.0, 0.35 * cap, nb_hours(calendar))
        flow = np.clip(push - np.median(push), -cap, cap)
        flows[link.folder] = flow
        net_import[link.origin.id] -= flow
        net_import[link.extremity.id] += flow

    results = YearResults(year)
    prices: dict[str, FloatArray] = {}
    for area in system.areas:
        prices[area.id] = _area_year(
            results, area, sizes[area.id], load[area.id], capacity[area.id],
            must_run[area.id], net_import[area.id], rng,
        )  # fmt: skip
    for link in system.links:
        results.links[link.folder] = _link_year(
            link, flows[link.folder], link_caps[link.folder], prices, system, rng
        )
    for district in system.districts:
        results.districts[district.id] = _district_year(results, district)
    return results


def _district_year(results: YearResults, district: District) -> dict[str, FloatArray]:
    """A district's hourly values from its areas', by the solver's spatial rules: sums,
    the mean price, LOLD from the summed unsupplied energy, LOLP if any area's is > 0;
    H. VAL does not apply to a district (N/A, as in the real runs)."""
    members = [results.areas[area] for area in district.members]
    values = {caption: np.sum([m[caption] for m in members], axis=0) for caption, _ in
              AREA_VARIABLES}  # fmt: skip
    values["MRG. PRICE"] = np.mean([m["MRG. PRICE"] for m in members], axis=0)
    values["H. VAL"] = np.full(values["LOAD"].shape, np.nan)
    values["LOLD"] = (values["UNSP. ENRG"] > 0).astype(np.float64)
    values["LOLP"] = np.where(np.any([m["LOLP"] > 0 for m in members], axis=0), 100.0, 0.0)
    return values


def _area_year(
    results: YearResults,
    area: Area,
    size: _AreaSize,
    load: FloatArray,
    capacity: FloatArray,
    must_run: FloatArray,
    net_import: FloatArray,
    rng: np.random.Generator,
) -> FloatArray:
    """Dispatch one area for the year; stores its variables and returns its prices."""
    residual = load - must_run - net_import
    generation = np.clip(residual, 0.0, capacity)
    unsupplied = np.maximum(residual - capacity, 0.0)
    spilled = np.maximum(-residual, 0.0)
    use = np.where(capacity > 0, generation / np.maximum(capacity, 1e-9), 0.0)
    price = 18.0 + 95.0 * use**3 + rng.normal(0.0, 1.5, load.shape)
    # Spillage hours: the price collapses to 0, sometimes a hair below (prints -0.00).
    price = np.where(spilled > 0, np.where(rng.random(load.shape) < 0.3, -0.001, 0.0), price)
    price = np.where(unsupplied > 0, area.unsupplied_cost, price)
    op_cost = generation * (12.0 + 55.0 * use**2)
    lold = (unsupplied > 0.5).astype(np.float64)  # the solver's LOLD threshold
    results.areas[area.id] = {
        "OV. COST": op_cost + unsupplied * area.unsupplied_cost + spilled * area.spilled_cost,
        "OP. COST": op_cost,
        "MRG. PRICE": price,
        "BALANCE": -net_import,
        "ROW BAL.": np.full(load.shape, size.row_balance / 1.0),
        "LOAD": load,
        "H. VAL": _water_value(area, price, rng),
        "UNSP. ENRG": unsupplied,
        "SPIL. ENRG": spilled,
        "LOLD": lold,
        "LOLP": np.where(unsupplied > 0, 100.0, 0.0),
        "AVL DTG": capacity,
        "DTG MRG": capacity - generation,
    }
    if area.clusters:
        results.details[area.id] = _cluster_details(area, generation, price)
    return np.asarray(price, dtype=np.float64)


def _water_value(area: Area, price: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Water values follow the weekly average price; N/A (NaN) without a reservoir."""
    if not area.reservoir:
        return np.full(price.shape, np.nan)
    weeks = np.arange(price.size) // 168
    weekly = np.bincount(weeks, weights=price) / np.bincount(weeks)
    return np.asarray(0.85 * weekly[weeks] + rng.normal(0.0, 0.5, price.size), dtype=np.float64)


def _cluster_details(
    area: Area, generation: FloatArray, price: FloatArray
) -> dict[tuple[str, str], FloatArray]:
    """Split the area's generation over its clusters in merit order (cheapest first)."""
    details: dict[tuple[str, str], FloatArray] = {}
    remaining = generation.copy()
    for rank, cluster in enumerate(area.clusters):
        installed = cluster.unit_count * cluster.nominal_capacity
        output = np.minimum(remaining, installed) if installed > 0 else np.zeros_like(remaining)
        remaining = remaining - output
        unit = cluster.nominal_capacity if cluster.nominal_capacity > 0 else 1.0
        units = np.ceil(output / unit - 1e-9)
        cost = 20.0 + 15.0 * rank
        details[(cluster.name, "MWh")] = output
        details[(cluster.name, "NP Cost - Euro")] = units * 0.0 + (units > 0) * 50.0 * rank
        details[(cluster.name, "NODU")] = units
        details[(cluster.name, "Profit - Euro")] = output * (price - cost)
    return details


def _link_year(
    link: Link,
    flow: FloatArray,
    capacity: float,
    prices: dict[str, FloatArray],
    system: System,
    rng: np.random.Generator,
) -> dict[str, FloatArray]:
    spread = prices[link.extremity.id] - prices[link.origin.id]
    congested_up = flow >= capacity - 1e-9
    congested_down = flow <= -capacity + 1e-9
    marginal = np.where(congested_up | congested_down, np.abs(spread), 0.0)
    loop = seeded_rng(system.digest, "loop-flow", link.folder).choice([0.0, 0.0, 0.0, 5.0])
    return {
        "FLOW LIN.": flow,
        "UCAP LIN.": np.abs(flow),
        "LOOP FLOW": np.full(flow.shape, float(loop)),
        "CONG. FEE (ALG.)": flow * spread,
        "CONG. FEE (ABS.)": np.abs(flow * spread),
        "MARG. COST": marginal,
        "CONG. PROB +": 100.0 * congested_up,
        "CONG. PROB -": 100.0 * congested_down,
    }


def aggregate(
    hourly: FloatArray, rules: Sequence[TimeRule], calendar: Calendar, period: str
) -> FloatArray:
    """A year's hourly values (hours x columns, one rule per column) -> one row per
    `period` row, exact (not rounded). N/A (NaN) stays N/A."""
    if period == "hourly":
        return hourly
    starts, counts = period_starts(calendar, period)
    sums = np.add.reduceat(hourly, starts, axis=0)
    means = sums / counts[:, None]
    hits = np.maximum.reduceat(np.where(np.isnan(hourly), np.nan, hourly > 0), starts, axis=0)
    anys = np.where(np.isnan(hits), np.nan, np.where(hits > 0, 100.0, 0.0))
    kind = np.array([rule.value for rule in rules])
    return np.where(kind == TimeRule.SUM.value, sums, np.where(kind == TimeRule.MEAN.value,
                    means, anys))  # fmt: skip

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
from dataclasses import dataclass, field

import numpy as np

from winjobs.antares.calendar import Calendar
from winjobs.standin.aggregate import FloatArray, district_values
from winjobs.standin.calendar import day_of_year, nb_hours
from winjobs.standin.plants import PlantValues, renewable_details, storage_details, thermal_details
from winjobs.standin.system import Area, Constraint, Link, System


@dataclass
class YearResults:
    """Hourly values of one year, per object: values columns by caption, per-plant
    columns by (unit, plant). A column the solver prints but the stand-in leaves out of
    these dicts is all zeros; which columns are present depends on the study only."""

    year: int
    areas: dict[str, dict[str, FloatArray]] = field(default_factory=dict)
    links: dict[str, dict[str, FloatArray]] = field(default_factory=dict)
    details: dict[str, PlantValues] = field(default_factory=dict)
    renewables: dict[str, PlantValues] = field(default_factory=dict)
    storages: dict[str, PlantValues] = field(default_factory=dict)
    districts: dict[str, dict[str, FloatArray]] = field(default_factory=dict)
    constraints: dict[str, FloatArray] = field(default_factory=dict)

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
        results.districts[district.id] = district_values(
            [results.areas[area] for area in district.members]
        )
    for constraint in system.constraints:
        results.constraints[constraint.caption] = _marginal_cost(system, constraint, year)
    return results


def _marginal_cost(system: System, constraint: Constraint, year: int) -> FloatArray:
    """A constraint's hourly marginal cost: zero when slack, positive when it binds
    (`<`), negative for `>`; constant over each step of its own type."""
    rng = seeded_rng(system.digest, "constraint", system.mode, year, constraint.caption)
    hours = nb_hours(system.calendar)
    step = {"hourly": 1, "daily": 24, "weekly": 168}[constraint.type]
    binding = rng.random(-(-hours // step)) < 0.3
    cost = np.where(binding, rng.uniform(1.0, 80.0, binding.size), 0.0)
    sign = 1.0 if constraint.operator == "<" else -1.0
    return np.asarray(sign * np.repeat(cost, step)[:hours], dtype=np.float64)


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
    """Dispatch one area for the year; stores its columns and plants, returns its prices."""
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
    margin = capacity - generation
    values: dict[str, FloatArray] = {
        "OV. COST": op_cost + unsupplied * area.unsupplied_cost + spilled * area.spilled_cost,
        "OP. COST": op_cost,
        "MRG. PRICE": price,
        "BALANCE": -net_import,
        "ROW BAL.": np.full(load.shape, size.row_balance / 1.0),
        "LOAD": load,
        "H. ROR": 0.2 * must_run,
        "WIND": 0.5 * must_run,
        "SOLAR": 0.3 * must_run,
        "UNSP. ENRG": unsupplied,
        "SPIL. ENRG": spilled,
        "LOLD": lold,
        "LOLP": np.where(unsupplied > 0, 100.0, 0.0),
        "AVL DTG": capacity,
        "DTG MRG": margin,
        "MAX MRG": margin + spilled,
        # Adequacy-patch columns (printed only with `include-adq-patch`).
        "DENS": unsupplied,
        "UNSP. ENRG CSR": unsupplied,
        "DTG MRG CSR": margin,
    }
    if area.reservoir:
        values |= _hydro(price, must_run, rng)
    if area.clusters:
        results.details[area.id] = thermal_details(area, generation, price, values)
    if area.renewables:
        results.renewables[area.id] = renewable_details(area, rng, load.size, values)
    if area.storages:
        results.storages[area.id] = storage_details(area, rng, price, values)
    results.areas[area.id] = values
    return np.asarray(price, dtype=np.float64)


def _hydro(price: FloatArray, must_run: FloatArray, rng: np.random.Generator) -> dict[
    str, FloatArray
]:  # fmt: skip
    """A reservoir: water values follow the weekly average price, the level a slow swing."""
    weeks = np.arange(price.size) // 168
    weekly = np.bincount(weeks, weights=price) / np.bincount(weeks)
    level = 50.0 + 30.0 * np.sin(2 * np.pi * np.arange(price.size) / price.size + rng.uniform(0, 6))
    return {
        "H. STOR": 0.25 * must_run,
        "H. INFL": 0.3 * must_run,
        "H. LEV": level,
        "H. VAL": 0.85 * weekly[weeks] + rng.normal(0.0, 0.5, price.size),
    }


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

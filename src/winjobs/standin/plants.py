"""Per-plant synthetic values: thermal clusters (`details`), renewable clusters
(`details-res`) and short-term storages (`details-STstorage`), and what they add to their
area's columns (thermal groups, emissions, NP COST, NODU, renewable groups, storage
groups). Keys are (unit row text, plant caption), as the details files print them.
"""

from __future__ import annotations

import numpy as np

from winjobs.standin.aggregate import FloatArray
from winjobs.standin.system import Area

PlantValues = dict[tuple[str, str], FloatArray]
#: Tons of CO2 per MWh of thermal output (a gas-like mix).
_CO2_PER_MWH = 0.4


def thermal_details(
    area: Area, generation: FloatArray, price: FloatArray, values: dict[str, FloatArray]
) -> PlantValues:
    """Split the area's generation over its clusters in merit order (cheapest first);
    add each cluster's output to its group column, and the emissions, NP COST and NODU."""
    details: PlantValues = {}
    remaining = generation.copy()
    units_total = np.zeros_like(generation)
    np_cost_total = np.zeros_like(generation)
    for rank, cluster in enumerate(area.clusters):
        installed = cluster.unit_count * cluster.nominal_capacity
        output = np.minimum(remaining, installed) if installed > 0 else np.zeros_like(remaining)
        remaining = remaining - output
        unit = cluster.nominal_capacity if cluster.nominal_capacity > 0 else 1.0
        units = np.ceil(output / unit - 1e-9)
        np_cost = np.asarray((units > 0) * 50.0 * rank, dtype=np.float64)
        details[("MWh", cluster.name)] = output
        details[("NP Cost - Euro", cluster.name)] = np_cost
        details[("NODU", cluster.name)] = units
        details[("Profit - Euro", cluster.name)] = output * (price - (20.0 + 15.0 * rank))
        group = values.get(cluster.group)
        values[cluster.group] = output.copy() if group is None else group + output
        units_total += units
        np_cost_total += np_cost
    if area.clusters:
        thermal = generation - remaining
        values["CO2 EMIS."] = thermal * _CO2_PER_MWH
        values["NP COST"] = np_cost_total
        values["NODU"] = units_total
    return details


def renewable_details(
    area: Area, rng: np.random.Generator, hours: int, values: dict[str, FloatArray]
) -> PlantValues:
    """Each renewable cluster's output (solar-like bell or windy weeks), added to its
    group column."""
    details: PlantValues = {}
    sun = np.maximum(0.0, np.sin(np.pi * ((np.arange(hours) % 24) - 6) / 12))
    for cluster in area.renewables:
        if cluster.group.startswith("SOLAR"):
            shape = sun * float(rng.uniform(0.6, 1.0))
        else:
            shape = np.repeat(rng.uniform(0.05, 0.9, -(-hours // 24)), 24)[:hours]
        output = np.asarray(cluster.capacity * shape, dtype=np.float64)
        details[("MWh", cluster.name)] = output
        group = values.get(cluster.group)
        values[cluster.group] = output.copy() if group is None else group + output
    return details


def storage_details(
    area: Area, rng: np.random.Generator, price: FloatArray, values: dict[str, FloatArray]
) -> PlantValues:
    """Each storage charges in cheap hours and discharges in dear ones; its injection,
    withdrawal and level add to its group's three columns."""
    details: PlantValues = {}
    cheap = price < np.median(price)
    for storage in area.storages:
        share = float(rng.uniform(0.2, 0.8))
        withdrawal = np.where(cheap, storage.withdrawal * share, 0.0)
        injection = np.where(cheap, 0.0, storage.injection * share)
        level = np.full(price.shape, storage.reservoir * float(rng.uniform(0.2, 0.8)))
        parts = {
            "P-injection - MW": injection,
            "P-withdrawal - MW": withdrawal,
            "Levels - MWh": level,
            "CashFlow - Euro": (injection - withdrawal) * price,
        }
        for unit, series in parts.items():
            details[(unit, storage.name)] = series
        for part, series in zip(("injection", "withdrawal", "level"), parts.values(), strict=False):
            caption = f"{storage.group}_{part}"
            group = values.get(caption)
            values[caption] = series.copy() if group is None else group + series
    return details

"""The once-per-run files of a merged run: summaries pooled, metadata synthesised.

- `annualSystemCost.txt` (EXP/STD/MIN/MAX of the per-year system cost, 6 significant
  digits) and `checkIntegrity.txt` (mean, std, min, max of the two optimisations'
  objective, `%.14e`) are UNWEIGHTED statistics over the played years, so they pool with
  year counts K_k as weights.
- `execution_info.ini`: the first run's file with durations and call counts summed over
  the partial runs (so `total` is machine time, not wall time) and `performed years` the
  number of years merged.
- `info.antares-output`: the earliest run's file (its date), with the merged run's name.
- `simulation.log`: the partial logs one after the other, each under a header line in the
  solver's log format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from winjobs.antares.ini import IniDocument
from winjobs.antares.stats import Summary, pool
from winjobs.errors import MergeError

_COST_KEYS = ("EXP", "STD", "MIN", "MAX")
_COST_LINE = re.compile(r"(EXP|STD|MIN|MAX) : (\S+)")


def _unweighted(values: Sequence[Sequence[float]], counts: Sequence[int]) -> list[float]:
    """(mean, std, min, max) of the union of year sets from each part's four numbers."""
    parts = []
    for (mean, std, low, high), count in zip(values, counts, strict=True):
        cell = np.array([0.0])
        parts.append(
            Summary(
                weight=float(count),
                count=count,
                exp=cell + mean,
                std=cell + std,
                min=cell + low,
                min_year=np.zeros(1, np.int64),
                max=cell + high,
                max_year=np.zeros(1, np.int64),
                share=cell + mean,
            )
        )
    pooled = pool(parts)
    return [float(pooled.exp[0]), float(pooled.std[0]), float(pooled.min[0]), float(pooled.max[0])]


def pool_annual_system_cost(texts: Sequence[str], counts: Sequence[int], where: str) -> str:
    parsed = []
    for text in texts:
        found = dict(_COST_LINE.findall(text))
        if set(found) != set(_COST_KEYS):
            raise MergeError(f"{where}: annualSystemCost.txt lacks EXP/STD/MIN/MAX lines")
        parsed.append([float(found[k]) for k in _COST_KEYS])
    pooled = _unweighted(parsed, counts)
    return "".join(f"{k} : {_cpp_default(v)}\n" for k, v in zip(_COST_KEYS, pooled, strict=True))


def _cpp_default(value: float) -> str:
    """How a C++ stream prints a double by default (6 significant digits, like %g)."""
    return "0" if value == 0 else f"{value:g}"


def pool_check_integrity(texts: Sequence[str], counts: Sequence[int], where: str) -> str:
    blocks = []
    for text in texts:
        numbers = [float(x) for x in text.split()]
        if len(numbers) != 8 or not all(math.isfinite(x) for x in numbers):
            raise MergeError(f"{where}: checkIntegrity.txt must hold 8 numbers")
        blocks.append(numbers)
    first = _unweighted([b[:4] for b in blocks], counts)
    second = _unweighted([b[4:] for b in blocks], counts)
    return "".join(f"{v:.14e}\n" for v in first + second)


def sum_execution_info(texts: Sequence[bytes], performed_years: int) -> bytes:
    docs = [IniDocument.parse(t, source="execution_info.ini") for t in texts]
    merged = docs[0].copy()
    for section in ("durations_ms", "number_of_calls"):
        totals: dict[str, int] = {}
        for doc in docs:
            for key, value in doc.items(section):
                if value.strip().lstrip("-").isdigit():
                    totals[key] = totals.get(key, 0) + int(value)
        for key, total in totals.items():
            merged.set(section, key, str(total))
    if merged.get("study", "performed years") is not None:
        merged.set("study", "performed years", str(performed_years))
    return merged.to_bytes()


def merged_info(text: bytes, name: str) -> bytes:
    doc = IniDocument.parse(text, source="info.antares-output")
    doc.set("general", "name", name)
    return doc.to_bytes()


def concatenated_log(runs: Sequence[tuple[str, Sequence[int], str]]) -> str:
    """`runs`: (run folder name, 0-based years, log text) in merge order."""
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    out = [
        f"[{stamp}][winjobs][infos] merged run: {len(runs)} partial runs, "
        f"{sum(len(y) for _, y, _ in runs)} MC years; their logs follow\n"
    ]
    for number, (name, years, text) in enumerate(runs, start=1):
        shown = ", ".join(str(y + 1) for y in years)
        out.append(
            f"[{stamp}][winjobs][infos] ===== partial run {number}/{len(runs)}: {name} "
            f"(MC years {shown}) =====\n"
        )
        out.append(text if text.endswith("\n") or not text else text + "\n")
    return "".join(out)

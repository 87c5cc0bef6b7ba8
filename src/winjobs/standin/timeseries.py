"""The time-series files of a run: `ts-numbers/` and `ts-generator/`.

`ts-numbers/` (when `[output] storenewset = true`): the series number drawn for EVERY
year, per area (load, solar, wind, hydro), link (ntc), thermal cluster (must-run ones
too), renewable cluster and binding-constraint group. `ts-generator/<kind>/mc-<year>/`
(when `[output] archives` names the kind): the series the generators made, at year 0 and
then every refresh interval, whatever the playlist. Rules of the 8.8 solver:

which kinds and clusters are generated, and at which years, is `schedule.refresh_plan`.

Their numbers depend on the input only, so every worker of a job writes the same files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from winjobs.antares.ini import as_bool, as_uint
from winjobs.standin.data import seeded_rng
from winjobs.standin.model import RunSettings
from winjobs.standin.schedule import kinds, refresh_plan

_HOURS = 8760


def _ts_file(path: Path, numbers: Sequence[int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{n}\n" for n in numbers)
    path.write_text(f"size:1x{len(numbers)}\n{body}", encoding="utf-8", newline="\n")


def write_ts_numbers(run_dir: Path, settings: RunSettings) -> None:
    """ts-numbers/ when `storenewset = true`."""
    if not as_bool(settings.generaldata.get("output", "storenewset")):
        return
    system = settings.system
    root = run_dir / "ts-numbers"

    def draws(*labels: str) -> list[int]:
        rng = seeded_rng(system.digest, "ts-numbers", *labels)
        return [int(n) for n in rng.integers(1, 3, settings.nbyears)]

    for kind in ("hydro", "load", "solar", "wind"):
        for area in system.areas:
            _ts_file(root / kind / f"{area.id}.txt", draws(kind, area.id))
    for link in system.links:
        _ts_file(root / "ntc" / link.origin.id / f"{link.extremity.id}.txt",
                 draws("ntc", link.folder))  # fmt: skip
    for area in system.areas:
        for cluster in area.clusters:
            _ts_file(root / "thermal" / area.id / f"{cluster.ident}.txt",
                     draws("thermal", area.id, cluster.ident))  # fmt: skip
        for renewable in area.renewables:
            _ts_file(root / "renewables" / area.id / f"{renewable.id}.txt",
                     draws("renewables", area.id, renewable.id))  # fmt: skip
    for group in system.constraint_groups:
        _ts_file(root / "bindingconstraints" / f"{group}.txt", draws("bindingconstraints", group))


def _series(path: Path, settings: RunSettings, kind: str, columns: int, *labels: str) -> None:
    """One archived matrix: 8760 rows, one column per generated series, integers."""
    rng = seeded_rng(settings.system.digest, "ts-generator", kind, *labels)
    values = rng.integers(0, 1000, size=(_HOURS, max(1, columns)))
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join("\t".join(str(int(v)) for v in row) + "\n" for row in values)
    path.write_text(text, encoding="utf-8", newline="\n")


def write_ts_generator(run_dir: Path, settings: RunSettings) -> None:
    """ts-generator/ for the archived kinds the run generates (`schedule` says when)."""
    archives = kinds(settings.generaldata, "output", "archives")
    if not archives:
        return
    generaldata, system = settings.generaldata, settings.system
    refresh = refresh_plan(generaldata, system)
    root = run_dir / "ts-generator"

    def count(kind: str) -> int:
        return as_uint(generaldata.get("general", f"nbtimeseries{kind}")) or 1

    for kind in ("load", "solar", "wind", "hydro"):
        for year in refresh.years(kind, settings.nbyears) if kind in archives else []:
            for area in system.areas:
                folder = root / kind / f"mc-{year}"
                if kind == "hydro":
                    for name in ("ror", "storage"):
                        _series(folder / area.id / f"{name}.txt", settings, kind, count(kind),
                                area.id, name, str(year))  # fmt: skip
                else:
                    _series(folder / f"{area.id}.txt", settings, kind, count(kind), area.id,
                            str(year))  # fmt: skip
    for year in refresh.years("thermal", settings.nbyears) if "thermal" in archives else []:
        for area in system.areas:
            for cluster in area.clusters:
                if cluster.generation == "force" or (
                    cluster.generation == "global" and refresh.global_thermal
                ):
                    path = root / "thermal" / f"mc-{year}" / area.id / f"{cluster.ident}.txt"
                    _series(path, settings, "thermal", count("thermal"), area.id, cluster.ident,
                            str(year))  # fmt: skip

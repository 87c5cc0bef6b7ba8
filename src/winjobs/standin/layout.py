"""The run folder and the files a run writes once: names and formats of the real solver.

`output/<YYYYMMDD-HHMM><eco|adq>[-name]` (`-2`, `-3`... on a clash); at the start
`info.antares-output` and `about-the-study/` (`timeseries.py`: `ts-numbers/` and
`ts-generator/`); per
finished year `optimization/week-by-week/year_<y>.txt`; at a normal end
`execution_info.ini`, `annualSystemCost.txt`, `checkIntegrity.txt`,
`optimization/{solve,update}-durations.txt` and `<mode>/mc-all/grid/`. A failed or
interrupted run stops before the end-of-run files, exactly like the real solver, which is
how a strict reader tells a complete run from a partial one.
"""

from __future__ import annotations

import math
import re
import shutil
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from winjobs.antares.output import RUN_KIND
from winjobs.standin.calendar import hour_groups, nb_hours
from winjobs.standin.data import seeded_rng
from winjobs.standin.model import RunSettings
from winjobs.standin.version import PosedVersion

_BAD_NAME_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def mode_title(mode: str) -> str:
    return mode.capitalize()


def run_folder_base(start: datetime, mode: str, name: str | None) -> str:
    """`20261125-0824eco-name`: start minute, mode, then the -n name (made file-safe)."""
    base = start.strftime("%Y%m%d-%H%M") + RUN_KIND[mode]
    if name:
        base += "-" + _BAD_NAME_CHARS.sub("_", name)
    return base


def reserve_run_folder(output_dir: Path, base: str, *, zipped: bool) -> Path:
    """Create the run folder, appending -2, -3... while the name (or its .zip) is taken.

    `mkdir` without exist_ok makes the reservation atomic: two runs started in the same
    minute on the same study never share a folder.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 10_000):
        name = base if attempt == 1 else f"{base}-{attempt}"
        folder = output_dir / name
        if zipped and folder.with_name(name + ".zip").exists():
            continue
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise RuntimeError(f"no free run folder name for {base} in {output_dir}")


def write_info(run_dir: Path, settings: RunSettings, version: PosedVersion, name: str,
               start: datetime) -> None:  # fmt: skip
    stamp = start.strftime("%Y.%m.%d - %H:%M")
    text = (
        "[general]\n"
        f"version = {version.format_version}\n"
        f"name = {name}\n"
        f"mode = {mode_title(settings.mode)}\n"
        f"date = {stamp}\n"
        f"title = {stamp}\n"
        f"timestamp = {int(start.timestamp())}\n"
        "\n"
    )
    (run_dir / "info.antares-output").write_text(text, encoding="utf-8", newline="\n")


def _study_ini(settings: RunSettings, version: PosedVersion, start: datetime) -> bytes:
    """study.antares as the solver saves it: its own version and the run's lastsave."""
    study = settings.study_file.copy()
    study.set("antares", "version", version.format_version)
    study.set("antares", "lastsave", str(int(start.timestamp())))
    return study.to_bytes()


def write_about_the_study(
    run_dir: Path,
    settings: RunSettings,
    version: PosedVersion,
    start: datetime,
    comment_file: Path | None,
) -> None:
    about = run_dir / "about-the-study"
    about.mkdir(exist_ok=True)
    (about / "parameters.ini").write_bytes(settings.generaldata.to_bytes())
    (about / "study.ini").write_bytes(_study_ini(settings, version, start))
    # Like the real 8.8 solver: the -c file, else empty (settings/comments.txt is not used).
    comments = comment_file.read_bytes() if comment_file is not None else b""
    (about / "comments.txt").write_bytes(comments)
    names = [d.folder for d in settings.system.districts] + [a.name for a in settings.system.areas]
    areas = "".join(f"{name}\r\n" for name in names)
    (about / "areas.txt").write_bytes(areas.encode("utf-8"))
    lines: list[str] = []
    for area in settings.system.areas:
        lines.append(area.id)
        lines += [f"\t{k.extremity.id}" for k in settings.system.links if k.origin is area]
    (about / "links.txt").write_text("".join(f"{line}\n" for line in lines), "utf-8", newline="\n")


def write_week_by_week(run_dir: Path, settings: RunSettings, year: int) -> None:
    """optimization/week-by-week/year_<0-based>.txt: synthetic solve times per week."""
    folder = run_dir / "optimization" / "week-by-week"
    folder.mkdir(parents=True, exist_ok=True)
    rng = seeded_rng(settings.system.digest, "durations", year)
    lines = ["# Week Optimization_1_ms Optimization_2_ms Update_ms1 Update_ms2"]
    for week in range(hour_groups(settings.system.calendar, "weekly")[1]):
        first, second = (int(v) for v in rng.integers(0, 3, 2))
        lines.append(f"{week} {first} {second} 0 0")
    (folder / f"year_{year}.txt").write_text("\n".join(lines) + "\n", "utf-8", newline="\n")


def _stats(values: Sequence[float]) -> tuple[float, float, float, float]:
    """Unweighted mean, population std, min and max (the solver's summary files)."""
    if not values:
        return 0.0, 0.0, 0.0, 0.0
    mean = sum(values) / len(values)
    variance = max(0.0, sum(v * v for v in values) / len(values) - mean * mean)
    return mean, math.sqrt(variance), min(values), max(0.0, max(values))


def write_annual_system_cost(run_dir: Path, costs: Sequence[float]) -> None:
    """annualSystemCost.txt: 6 significant digits, MAX starting at 0 (8.8.1+ format)."""
    mean, std, low, high = _stats(costs)
    text = f"EXP : {mean:g}\nSTD : {std:g}\nMIN : {low:g}\nMAX : {high:g}\n"
    (run_dir / "annualSystemCost.txt").write_text(text, encoding="utf-8", newline="\n")


def write_check_integrity(run_dir: Path, first: Sequence[float], second: Sequence[float]) -> None:
    """checkIntegrity.txt: mean, std, min, max of both optimisations' objectives, %.14e."""
    lines = []
    for objectives in (first, second):
        mean, std, low, _ = _stats(objectives)
        high = max(objectives) if objectives else 0.0
        lines += [f"{v:.14e}" for v in (mean, std, low, high)]
    (run_dir / "checkIntegrity.txt").write_text("\n".join(lines) + "\n", "utf-8", newline="\n")


def write_durations(run_dir: Path) -> None:
    folder = run_dir / "optimization"
    folder.mkdir(exist_ok=True)
    block = "EXP (ms) : 0\nSTD (ms) : 0\nMIN (ms) : 0\nMAX (ms) : 0\n"
    solve = f"First optimization :\n{block}Second optimization :\n{block}"
    (folder / "solve-durations.txt").write_text(solve, encoding="utf-8", newline="\n")
    (folder / "update-durations.txt").write_text(block, encoding="utf-8", newline="\n")


def write_execution_info(
    run_dir: Path,
    settings: RunSettings,
    version: PosedVersion,
    durations_ms: dict[str, int],
    parallel_years: int,
) -> None:
    """execution_info.ini: written last, after a normal end only (the success marker)."""
    system = settings.system
    calls = {key: 1 for key in durations_ms}
    calls["yby_export"] = len(settings.years) if settings.year_by_year else 0
    nb_clusters = sum(len(area.clusters) for area in system.areas)
    sections: list[tuple[str, list[tuple[str, object]]]] = [
        ("durations_ms", [(k, v) for k, v in sorted(durations_ms.items())]),
        ("number_of_calls", [(k, v) for k, v in sorted(calls.items())]),
        ("optimization problem", [("constraints", 0), ("non-zero coefficients", 0),
                                  ("variables", 0)]),
        ("study", [
            ("antares version", version.format_version),
            ("areas", len(system.areas)),
            ("enabled bc", 0),
            ("enabled daily bc", 0),
            ("enabled hourly bc", 0),
            ("enabled thermal clusters", nb_clusters),
            ("enabled weekly bc", 0),
            ("links", len(system.links)),
            ("max parallel years", parallel_years),
            ("ortools solver", "none"),
            ("ortools used", "false"),
            ("performed years", len(settings.years)),
            ("unit commitment", "fast"),
        ]),
    ]  # fmt: skip
    text = "".join(
        f"[{name}]\n" + "".join(f"{key} = {value}\n" for key, value in items) + "\n"
        for name, items in sections
    )
    (run_dir / "execution_info.ini").write_text(text, encoding="utf-8", newline="\n")


def write_grid(mode_dir: Path, settings: RunSettings) -> None:
    """mc-all/grid/{areas,links,thermal}.txt: the study's structure as the solver lists it."""
    grid = mode_dir / "mc-all" / "grid"
    grid.mkdir(parents=True, exist_ok=True)
    system = settings.system
    areas = ["id\tname", *(f"{a.id}\t{a.name}" for a in system.areas)]
    links = ["upstream\tdownstream", *(f"{k.origin.id}\t{k.extremity.id}" for k in system.links)]
    thermal = [
        "area id\tid\tname\tgroup\tunit count\tnominal capacity\tmin stable power\t"
        "min up/down time\tspinning\tco2\tmarginal cost\tfixed cost\tstartup cost\t"
        "market bid cost\tspread cost"
    ]
    for area in system.areas:
        for c in area.clusters:
            thermal.append(
                f"{area.id}\t{c.ident}\t{c.name}\tOther\t{c.unit_count}\t"
                f"{c.nominal_capacity:.6f}\t0.000000\t1\t0.000000\t0.000000\t0.000000\t"
                "0.000000\t0.000000\t0.000000\t0.000000"
            )
    for file_name, lines in (("areas.txt", areas), ("links.txt", links), ("thermal.txt", thermal)):
        (grid / file_name).write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")


def zip_run_folder(run_dir: Path) -> Path:
    """-z: the run folder becomes `<run>.zip`, entries relative to the run root."""
    archive_path = run_dir.with_name(run_dir.name + ".zip")
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(run_dir.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(run_dir).as_posix())
    shutil.rmtree(run_dir)
    return archive_path


_MPS_OPTIMS = {"true": (1, 2), "both-optims": (1, 2), "optim-1": (1,), "optim-2": (2,)}


def mps_optimisations(settings: RunSettings, forced: bool) -> tuple[int, ...]:
    """Which optimisations export their problem (`[optimization] include-exportmps`, or
    `-m` on the command line): none, 1, 2 or both."""
    if forced:
        return (1, 2)
    value = settings.generaldata.get("optimization", "include-exportmps", "") or ""
    return _MPS_OPTIMS.get(value.strip().lower(), ())


def optimisation_periods(settings: RunSettings) -> list[str]:
    """The optimisation periods of a year, named like the real files: `<week>` with
    `simplex-range = week`, `<week>-<day>` with `day`. In adequacy the solver only runs
    the simplex on week 1 and on weeks with a positive net load somewhere (data the
    stand-in does not have): it exports week 1, like the shared adequacy study."""
    weeks = 1 if settings.mode == "adequacy" else nb_hours(settings.system.calendar) // 168
    daily = (settings.generaldata.get("optimization", "simplex-range") or "").strip() == "day"
    days = range(1, 8) if daily else (None,)
    return [f"{w}" if d is None else f"{w}-{d}" for w in range(1, weeks + 1) for d in days]


def write_mps_exports(run_dir: Path, settings: RunSettings, year: int,
                      optimisations: tuple[int, ...]) -> list[str]:  # fmt: skip
    """Every optimisation period's problem (the chosen optimisations: an empty synthetic
    MPS model) and criterion (both optimisations) files of a year, named like the real
    solver's (`problem-<year>-<week>[-<day>]--optim-nb-<k>.mps`, 1-based), in its order:
    per week, optimisation 1 over the week's periods, then 2. Returns the file names."""
    if not optimisations:
        return []
    rng = seeded_rng(settings.system.digest, "criterion", year)
    periods = optimisation_periods(settings)
    weeks = [[p for p in periods if p.split("-")[0] == w] for w in dict.fromkeys(
        p.split("-")[0] for p in periods)]  # fmt: skip
    model = (
        "* Number of variables:   0\n* Number of constraints: 0\n"
        "NAME          Pb Solve\nROWS\n N  OBJECTIF\nCOLUMNS\nRHS\nBOUNDS\nENDATA\n"
    )
    names = []
    solved = (1,) if settings.mode == "expansion" else (1, 2)  # no second optimisation
    for week in weeks:
        for optimisation in solved:
            for period in week:
                stem = f"{year + 1}-{period}--optim-nb-{optimisation}"
                if optimisation in optimisations:
                    (run_dir / f"problem-{stem}.mps").write_text(model, "utf-8", newline="\n")
                    names.append(f"problem-{stem}.mps")
                value = float(rng.uniform(1e5, 1e8))
                (run_dir / f"criterion-{stem}.txt").write_text(
                    f"* Optimal criterion value :   {value:.10e}\n", encoding="utf-8", newline="\n"
                )
                names.append(f"criterion-{stem}.txt")
    return names

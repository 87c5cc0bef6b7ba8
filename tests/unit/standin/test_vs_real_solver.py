"""The stand-in writes what the REAL Antares 8.8.10 solver writes (issue 12).

On every shared study, and on variants of their settings (geographic and thematic
trimming, year-by-year or synthesis off, districts, binding constraints, adequacy,
`result-format = zip`, extra files, renewable clusters and short-term storages,
regenerated time series...), the stand-in and the real solver run the same copy with the
same command line, and must end alike (exit status, run folder or not) with the same
layout (`tests.helpers.layout_compare`: files, header lines, `N/A` cells, digest shape,
progress lines). Only the numbers are synthetic.

Variants are cut to the first two weeks (the layout does not depend on the horizon; the
shared studies themselves run as they are). Real runs are cached for the session
(`tests.helpers.real_solver`) and variants made once (`tests.helpers.study_variants`).
Skipped, with the reason, where the shared material is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED_ANTARES, shared_studies
from tests.helpers.layout_compare import layout_problems
from tests.helpers.real_solver import RealSolver, real_solver
from tests.helpers.study_variants import (
    VARIANTS,
    Filter,
    Variant,
    VariantCache,
    add_district,
    copy_study,
    full_output,
    set_constraint_filter,
    set_settings,
    study_variants,
)
from tests.unit.standin.conftest import run_inprocess
from winjobs.antares.ini import IniDocument
from winjobs.antares.output import find_run_folders
from winjobs.antares.playlist import write_task_playlist

__all__ = ["real_solver", "study_variants"]  # the fixtures this module uses

pytestmark = [pytest.mark.shared_data, pytest.mark.slow, pytest.mark.xdist_group("real-solver")]

NTC = "multiple-ntc-sc-builder"
BC = "bc-rhs-scenario-simple-v870"


def _edit(path: Path, section: str, **keys: str) -> None:
    document = IniDocument.read(path) if path.is_file() else IniDocument.parse(b"")
    for key, value in keys.items():
        document.set(section, key.replace("_", "-"), value)
    document.write(path)


def _series(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{value}\n" * 8760, encoding="utf-8")


def _two_weeks(study: Path) -> None:
    """At most the first two weeks: the layout is the same, the runs up to 26 times smaller
    (a hydro hot start then refuses to run, as the real solver does)."""
    end = IniDocument.read(study / "settings" / "generaldata.ini").get("general", "simulation.end")
    days = min(14, int(end or "365"))
    set_settings(study, "general", {"simulation.start": "1", "simulation.end": str(days)})


def _plants(study: Path) -> None:
    """Renewable clusters (one disabled) in `sink 1`, short-term storages in `source`
    (listed by name, not by section; one disabled), empty storage lists elsewhere."""
    full_output(study)
    set_settings(study, "other preferences", {"renewable-generation-modelling": "clusters"})
    clusters = study / "input" / "renewables" / "clusters" / "sink 1" / "list.ini"
    clusters.parent.mkdir(parents=True, exist_ok=True)
    for section, group, enabled in (("wind b", "Wind Onshore", "true"),
                                    ("solar a", "Solar PV", "true"),
                                    ("off c", "Other RES 1", "false")):  # fmt: skip
        _edit(clusters, section, name=section.title(), group=group, enabled=enabled,
              unitcount="1", nominalcapacity="100.000000")  # fmt: skip
        _series(study / "input" / "renewables" / "series" / "sink 1" / section / "series.txt", "30")
    storages = study / "input" / "st-storage" / "clusters"
    for area in ("sink 1", "sink 2", "source"):
        (storages / area).mkdir(parents=True, exist_ok=True)
        (storages / area / "list.ini").touch()
    for section, name, group, on in (("bat 2", "Bat 2", "Battery", "true"),
                                     ("psp 1", "PSP 1", "PSP_open", "true"),
                                     ("old 3", "Old 3", "Pondage", "false")):  # fmt: skip
        _edit(storages / "source" / "list.ini", section, name=name, group=group, enabled=on,
              injectionnominalcapacity="100", withdrawalnominalcapacity="100",
              reservoircapacity="500", efficiency="0.9", initiallevel="0.5")  # fmt: skip


def _constraint_kinds(study: Path) -> None:
    """Every kind of binding constraint output: `both` (two columns), `equal` (none),
    `greater`, a daily and a weekly one (N/A at finer periods), filters; a must-run
    cluster (no weight in a constraint); ts-numbers of the constraint groups and the
    archived thermal time series."""
    full_output(study)
    set_settings(study, "general", {"thematic-trimming": "false", "generate": "thermal"})
    set_settings(study, "output", {"storenewset": "true", "archives": "thermal"})
    folder = study / "input" / "bindingconstraints"
    ini = folder / "bindingconstraints.ini"
    _edit(ini, "0", type="daily")
    _edit(ini, "1", type="weekly", operator="greater")
    _edit(ini, "2", operator="both")
    _edit(ini, "3", operator="equal")
    for section, periods in (("0", "hourly, daily, annual"), ("1", "hourly, weekly"),
                             ("2", "hourly, daily, weekly, monthly, annual"),
                             ("3", "hourly")):  # fmt: skip
        set_constraint_filter(study, section, Filter("", periods))
    (folder / "limit-ntc-2_gt.txt").write_bytes((folder / "limit-ntc-2_lt.txt").read_bytes())
    (folder / "limit-thermal-1_gt.txt").write_bytes(
        (folder / "limit-thermal-1_lt.txt").read_bytes()
    )
    (folder / "limit-thermal-2_eq.txt").write_bytes(
        (folder / "limit-thermal-2_lt.txt").read_bytes()
    )
    _edit(study / "input" / "thermal" / "clusters" / "area" / "list.ini", "cluster 2",
          must_run="true")  # fmt: skip


def _many_districts(study: Path) -> None:
    """More districts with output than areas: the 8.8 solver dies writing the digest."""
    full_output(study)
    for name in ("d1", "d2", "d3", "d4"):
        add_district(study, name)


def _exports(study: Path) -> None:
    """Every MPS and criterion file (expansion: optimisation 1 only)."""
    full_output(study)
    set_settings(study, "optimization", {"include-exportmps": "both-optims"})


def _reservoirs(study: Path) -> None:
    """Reservoir management (cold start: a hot start needs a whole year) and a district:
    H. LEV, H. OVFL, H. VAL print numbers in the areas, N/A in the district."""
    full_output(study)
    set_settings(study, "other preferences", {"initial-reservoir-levels": "cold start"})
    set_settings(study, "general", {"thematic-trimming": "false"})


def _archives(study: Path) -> None:
    """Time series regenerated every 3 years and archived: new batches, ts-generator/."""
    set_settings(study, "output", {"archives": "thermal"})


#: Variants of this module only (the shared catalogue is `study_variants.VARIANTS`).
LOCAL_VARIANTS = {
    "plants": _plants,
    "constraint-kinds": _constraint_kinds,
    "many-districts": _many_districts,
    "archives": _archives,
    "reservoirs": _reservoirs,
    "exports": _exports,
}


def short_variant(name: str) -> Variant:
    """A shared or local variant cut to two weeks (`standin-<name>`, its own copies and
    real runs)."""
    steps = LOCAL_VARIANTS.get(name) or VARIANTS[name].apply

    def apply(study: Path) -> None:
        steps(study)
        _two_weeks(study)

    return Variant(f"standin-{name}", apply)


#: (study, variant): every setting of the issue on a study that has what it needs.
CASES = [
    *(
        (NTC, name)
        for name in (
            "filters-no-year-by-year",
            "filters-random",
            "thematic",
            "thematic-keep",
            "year-by-year-off",
            "synthesis-off",
            "zip",
            "districts",
            "extras",
            "adequacy",
            "plants",
            "many-districts",
        )
    ),
    (BC, "constraints"),
    (BC, "adequacy"),
    (BC, "constraint-kinds"),
    ("hydro-H700-23", "full"),  # hydro hot start on two weeks: refused after the run folder
    ("hydro-H700-23", "reservoirs"),
    ("multistage-derated", "full"),  # impedances: the quadratic step fills FLOW QUAD.
    ("test-parallel-00-eco-fast-24", "extras"),  # simplex-range = day: MPS files per day
    ("thermal-refresh", "archives"),
]


def _same_ending(
    real: RealSolver,
    study: Path,
    tmp_path: Path,
    years: list[int] | None,
    args: tuple[str, ...] = (),
) -> None:
    """Run both on copies of `study` (playing `years`, with `args`), compare endings and
    layouts."""
    expected = real.run(study, years=years, args=args)
    assert expected.exit_code != 0 or expected.run is not None, expected.stdout[-2000:]
    mine_study = copy_study(study, tmp_path / study.name)
    if years is not None:
        write_task_playlist(mine_study, years)
    outcome = run_inprocess([*args, str(mine_study)])
    runs = find_run_folders(mine_study)
    # A real crash is a signal (-11 from subprocess); the stand-in exits with 139, as a
    # shell reports a SIGSEGV (Windows has no signals).
    real_status = 128 - expected.exit_code if expected.exit_code < 0 else expected.exit_code
    assert outcome.status == real_status, (outcome.stdout[-2000:], expected.stdout[-2000:])
    assert (expected.run is None) == (not runs), (expected.run, runs)
    if expected.run is not None:
        assert expected.run.suffix == runs[-1].suffix  # a folder, or output/<run>.zip
        assert layout_problems(expected.run, runs[-1]) == []


@pytest.mark.parametrize("study", shared_studies(), ids=lambda p: p.name)
def test_each_shared_study_as_the_real_solver_writes_it(
    study: Path, real_solver: RealSolver, tmp_path: Path
) -> None:
    """As they are: refusals (9.x versions, MILP without OR-Tools), year-by-year or not,
    synthesis or not, districts, filters, thematic trimming, adequacy, MPS exports,
    ts-numbers, time series regenerated during the run..."""
    _same_ending(real_solver, study, tmp_path, None)


@pytest.mark.parametrize(("study", "years"), [(NTC, [2]), ("playlist-1-cold", [2])])
def test_partial_runs_as_the_real_solver_writes_them(
    study: str, years: list[int], real_solver: RealSolver, study_variants: VariantCache,
    tmp_path: Path,
) -> None:  # fmt: skip
    """A task's copy: one year of several played by the playlist (weighted, for
    playlist-1-cold)."""
    source = study_variants.get(SHARED_ANTARES / "studies" / study, short_variant("as-is"))
    _same_ending(real_solver, source, tmp_path, years)


@pytest.mark.parametrize(("study", "variant"), CASES, ids=[f"{s}-{v}" for s, v in CASES])
def test_settings_variants_as_the_real_solver_writes_them(
    study: str,
    variant: str,
    real_solver: RealSolver,
    study_variants: VariantCache,
    tmp_path: Path,
) -> None:
    source = study_variants.get(SHARED_ANTARES / "studies" / study, short_variant(variant))
    _same_ending(real_solver, source, tmp_path, None)


def test_expansion_mode_as_the_real_solver_writes_it(
    real_solver: RealSolver, study_variants: VariantCache, tmp_path: Path
) -> None:
    """`--expansion`: economy's layout in an `<stamp>exp` run folder, no second
    optimisation (its MPS and criterion files are missing)."""
    source = study_variants.get(SHARED_ANTARES / "studies" / NTC, short_variant("exports"))
    _same_ending(real_solver, source, tmp_path, None, ("--expansion",))

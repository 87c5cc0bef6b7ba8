"""The 8.8 solver's rules the stand-in replays, without the real solver: thematic
selection, filters, districts, binding constraints, batches and regeneration years.
(`test_vs_real_solver.py` checks the same rules against the real solver.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.standin.conftest import run_inprocess, set_settings
from winjobs.antares.calendar import Calendar
from winjobs.antares.ini import IniDocument
from winjobs.standin.catalogue import printed_lists, selection
from winjobs.standin.inputs import periods, read_areas, read_constraints, read_districts
from winjobs.standin.schedule import batches, parallelism, refresh_plan, study_sets
from winjobs.standin.system import ALL_PERIODS, Area, Cluster, Link, System


def _ini(text: str) -> IniDocument:
    return IniDocument.parse(text.encode())


def _captions(generaldata: str, mode: str = "economy") -> list[str]:
    lists = printed_lists(mode, selection(_ini(generaldata)))
    return [e.caption for e in lists.area]


def test_thematic_selection_is_replayed_in_file_order() -> None:
    everything = _captions("[general]\nthematic-trimming = false\n")
    assert "WIND" in everything and "WIND OFFSHORE" not in everything  # aggregated renewables
    values = printed_lists("economy", selection(_ini(""))).area
    assert len([e for e in values if e.kind == "values"]) == 77  # as in the real 8.8 files
    kept = _captions(
        "[general]\nthematic-trimming = true\n[variables selection]\n"
        "selected_vars_reset = false\nselect_var + = LOAD\nselect_var + = DTG BY PLANT\n"
        "select_var + = NO SUCH VARIABLE\nselect_var + = mrg. price\n"
    )
    assert kept == ["MRG. PRICE", "MWh", "LOAD"]  # list order; case-insensitive; DTG by plant
    dropped = _captions(
        "[general]\nthematic-trimming = true\n[variables selection]\n"
        "select_var - = LOAD\nselected_vars_reset = true\nselect_var - = OV. COST\n"
    )
    assert "LOAD" in dropped and "OV. COST" not in dropped  # the reset came after `- LOAD`
    ignored = _captions(
        "[general]\nthematic-trimming = false\n[variables selection]\nselected_vars_reset = false\n"
    )
    assert ignored == everything


def test_study_options_exclude_variables() -> None:
    clusters = _captions("[other preferences]\nrenewable-generation-modelling = clusters\n")
    assert "WIND OFFSHORE" in clusters and "WIND" not in clusters
    patch = _captions("[adequacy patch]\ninclude-adq-patch = true\n")
    assert {"DENS", "LMR VIOL.", "DTG MRG CSR", "UNSP. ENRG CSR"} <= set(patch)
    adequacy = _captions("", mode="adequacy")
    assert "NODU" not in adequacy and adequacy[-1] == "Profit - Euro"  # Profit by plant
    links = printed_lists("adequacy", selection(_ini(""))).link
    assert "LOOP FLOW" not in [e.caption for e in links]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, ALL_PERIODS),
        ("", frozenset()),
        ("daily, annual", frozenset({"daily", "annual"})),
        ("Hourly;weekly  monthly", frozenset({"hourly", "weekly", "monthly"})),
    ],
)
def test_filter_values(text: str | None, expected: frozenset[str]) -> None:
    assert periods(text) == expected


def _study(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_filters_only_with_geographic_trimming(tmp_path: Path) -> None:
    study = _study(
        tmp_path,
        {
            "input/areas/list.txt": "North\nSouth\n",
            "input/areas/north/optimization.ini": "[filtering]\nfilter-synthesis = daily\n"
            "filter-year-by-year = \n",
        },
    )
    trimmed = read_areas(study, renewable_clusters=False, trimming=True, adequacy=False)
    assert trimmed[0].synthesis == {"daily"} and trimmed[0].year_by_year == frozenset()
    assert trimmed[1].synthesis == ALL_PERIODS  # no optimization.ini: every period
    plain = read_areas(study, renewable_clusters=False, trimming=False, adequacy=False)
    assert plain[0].synthesis == plain[0].year_by_year == ALL_PERIODS


def test_districts_follow_their_rules(tmp_path: Path) -> None:
    study = _study(
        tmp_path,
        {
            "input/areas/list.txt": "A\nB\nC\n",
            "input/areas/sets.ini": "[z all]\napply-filter = add-all\n- = b\n"
            "[b pair]\ncaption = Pair\n+ = a\n+ = b\n[c from set]\n+ = b pair\n- = a\n"
            "[d hidden]\noutput = false\n+ = a\n[e empty]\n+ = nowhere\n",
        },
    )
    areas = read_areas(study, renewable_clusters=False, trimming=False, adequacy=False)
    found = {d.id: (d.caption, d.members) for d in read_districts(study, areas)}
    assert found == {
        "b pair": ("Pair", ("a", "b")),
        "c from set": ("c from set", ("b",)),
        "z all": ("z all", ("a", "c")),
    }


def test_printed_binding_constraints(tmp_path: Path) -> None:
    study = _study(
        tmp_path,
        {
            "input/areas/list.txt": "A\nB\n",
            "input/links/a/properties.ini": "[b]\n",
            "input/thermal/clusters/a/list.ini": "[Base]\nname = x\n[Peak]\nmust-run = true\n",
            "input/bindingconstraints/bindingconstraints.ini": (
                "[0]\nname = both\nenabled = true\ntype = daily\noperator = both\n"
                "filter-year-by-year = hourly, daily\na%b = 1\n"
                "[1]\nname = eq\nenabled = true\ntype = hourly\noperator = equal\na%b = 1\n"
                "[2]\nname = off\nenabled = false\ntype = hourly\noperator = less\na%b = 1\n"
                "[3]\nname = mustrun\nenabled = true\ntype = hourly\noperator = less\n"
                "a.peak = 1\n"
                "[4]\nname = base\nenabled = true\ntype = weekly\noperator = greater\n"
                "a.base = 2\n"
            ),
        },
    )
    generaldata = _ini("[optimization]\nsimplex-range = day\n")
    areas = read_areas(study, renewable_clusters=False, trimming=False, adequacy=False)
    assert [c.name for c in areas[0].clusters] == ["Base", "Peak"]  # section names, by id
    links = (Link(areas[0], areas[1]),)
    constraints, groups = read_constraints(study, generaldata, areas, links)
    assert [(c.caption, c.type, sorted(c.year_by_year)) for c in constraints] == [
        ("base (>)", "daily", []),  # weekly becomes daily with simplex-range = day
        ("both_inf (<)", "daily", ["daily", "hourly"]),
        ("both_sup (>)", "daily", ["daily", "hourly"]),
    ]
    assert groups == ("default",)
    adequacy = read_areas(study, renewable_clusters=False, trimming=False, adequacy=True)
    names = [c.name for c in read_constraints(study, generaldata, adequacy, links)[0]]
    assert names == ["both_inf", "both_sup"]  # every cluster is must-run in adequacy


def _system(*clusters: Cluster) -> System:
    area = Area("A", "a", clusters=clusters)
    return System((area,), (), Calendar.from_settings(), b"", "economy")


def test_batches_like_the_solver() -> None:
    """Sets of parallel years: the parallelism is capped by the played years a set can
    hold; regenerations start new sets (real logs of test-parallel-00 and thermal-refresh)."""
    plan = refresh_plan(_ini("[general]\ngenerate = load\n"), _system())
    assert parallelism(2, plan, 3, {0}) == 1
    assert batches(2, plan, 3, {0}) == [[0], [1, 2]]
    forced = _system(Cluster("c", 1, 1.0, generation="force"))
    refresh = _ini("[general]\nrefreshtimeseries = thermal\nrefreshintervalthermal = 3\n")
    plan = refresh_plan(refresh, forced)
    assert plan.years("thermal", 10) == [0, 3, 6, 9]
    assert batches(2, plan, 10, set(range(10))) == [
        [0, 1], [2], [3, 4], [5], [6, 7], [8], [9],
    ]  # fmt: skip
    generated = refresh_plan(_ini("[general]\ngenerate = thermal, load\n"), forced)
    assert generated.years("thermal", 10) == generated.years("load", 10) == [0]
    assert batches(3, generated, 7, {1, 2, 5}) == [[0, 1, 2, 3, 4, 5], [6]]


def test_hot_start_is_refused_like_the_solver(small_study: Callable[..., Path]) -> None:
    """A hydro hot start on less than a year: the real 8.8 solver starts the run folder,
    logs why, and stops (exit 1); unequal sets of parallel years are refused too."""
    study = small_study(nbyears=4, days=14)
    set_settings(study, "other preferences", {"initial-reservoir-levels": "hot start"})
    outcome = run_inprocess([str(study)])
    assert outcome.status == 1
    assert "[error] Hot Start Hydro option : simulation calendar must cover one complete year" in (
        outcome.stdout
    )
    assert "[error] Found 3 errors: The simulation must stop." in outcome.stdout
    assert outcome.lines[-2].endswith("[fatal] The simulation must stop.")
    (run,) = (study / "output").iterdir()
    assert sorted(p.name for p in run.iterdir()) == [
        "about-the-study", "info.antares-output", "simulation.log",
    ]  # fmt: skip
    assert (
        (run / "simulation.log")
        .read_text()
        .splitlines()[-1]
        .endswith("Quitting the solver gracefully")
    )
    plan = refresh_plan(_ini(""), _system())
    assert study_sets(2, plan, 5, {0, 1, 2}) == [2, 1]  # unequal: refused with 2 at once
    assert study_sets(1, plan, 5, {0, 1, 2}) == [1, 1, 1, 0]  # one at a time: never refused

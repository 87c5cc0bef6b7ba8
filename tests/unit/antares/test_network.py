"""FLOW QUAD. facts of a study: printed variables, loops, impedances (winjobs.antares.network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.study_variants import (
    add_link,
    copy_study,
    set_impedances,
    thematic_trimming,
)
from winjobs.antares.ini import IniDocument
from winjobs.antares.network import find_loop, flow_quad_blocker, links, variable_printed
from winjobs.antares.study import open_study


def _generaldata(text: str) -> IniDocument:
    return IniDocument.parse(text.encode())


def test_variable_selection_is_replayed_like_the_solver() -> None:
    off = "[general]\nthematic-trimming = false\n[variables selection]\nselect_var - = FLOW QUAD.\n"
    assert variable_printed(_generaldata(off), "FLOW QUAD.")  # selection ignored when off
    dropped = off.replace("= false", "= true")
    assert not variable_printed(_generaldata(dropped), "flow quad.")  # upper-cased names
    assert variable_printed(_generaldata(dropped), "FLOW LIN.")
    only = (
        "[general]\nthematic-trimming = true\n[variables selection]\n"
        "selected_vars_reset = false\nselect_var + = FLOW LIN.\n"
    )
    assert variable_printed(_generaldata(only), "FLOW LIN.")
    assert not variable_printed(_generaldata(only), "FLOW QUAD.")
    again = only + "select_var + = flow quad.\n"
    assert variable_printed(_generaldata(again), "FLOW QUAD.")


def test_loops_are_found_and_forests_are_not() -> None:
    star = [("sink 1", "source"), ("sink 2", "source"), ("sink 3", "sink 2")]
    assert find_loop(star) is None
    loop = find_loop([*star, ("sink 3", "source")])
    assert loop is not None and set(loop) == {"sink 3", "sink 2", "source"}
    assert find_loop([("a", "b"), ("c", "d")]) is None
    assert find_loop([("a", "a")]) == ["a"]


@pytest.mark.shared_data
def test_a_loop_with_impedances_keeps_the_study_in_one_piece(
    shared_antares: Path, tmp_path: Path
) -> None:
    source = shared_antares / "studies" / "multiple-ntc-sc-builder"
    study = copy_study(source, tmp_path / "study")
    general = IniDocument.read(study / "settings/generaldata.ini")
    assert links(study) == [("sink 1", "source"), ("sink 2", "source")]
    add_link(study, "sink 2", "sink 1", capacity=500)
    assert ("sink 1", "sink 2") in links(study)
    assert flow_quad_blocker(study, general, (8, 6)) is None  # no impedance: 0 everywhere
    assert open_study(study).splittable

    set_impedances(study)
    blocker = flow_quad_blocker(study, general, (8, 6))
    assert blocker is not None and "form a loop (" in blocker and "select_var -" in blocker
    facts = open_study(study)
    assert not facts.splittable and facts.split_blocker == blocker
    assert blocker in facts.warnings

    thematic_trimming(study, drop=["FLOW QUAD."])
    assert open_study(study).splittable

    forest = copy_study(source, tmp_path / "forest")
    set_impedances(forest)  # impedances on a star: FLOW QUAD. pools exactly
    assert open_study(forest).splittable

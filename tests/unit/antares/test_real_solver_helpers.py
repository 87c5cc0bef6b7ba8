"""The shared real-solver helpers do what the other real-solver tests rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.real_solver import RealSolver, real_solver
from tests.helpers.study_variants import NotApplicable, VariantCache, study_variants
from winjobs.antares.ini import IniDocument
from winjobs.antares.output import read_run_info
from winjobs.antares.values import read_table

__all__ = ["real_solver", "study_variants"]

pytestmark = pytest.mark.shared_data


def test_a_partial_run_plays_the_years_asked_and_is_cached(
    real_solver: RealSolver, study_variants: VariantCache, shared_antares: Path
) -> None:
    study = study_variants.get(shared_antares / "studies" / "multiple-ntc-sc-builder", "full")
    run = real_solver.run(study, years=[3, 1])
    info = read_run_info(run.folder())
    assert (info.years, info.year_by_year, info.synthesis) == ((1, 3), True, True)
    assert real_solver.run(study, years=(1, 3)) is run  # one solve per session
    assert not (shared_antares / "studies" / "multiple-ntc-sc-builder" / "output").exists()


def test_variants_change_only_what_they_say(
    real_solver: RealSolver, study_variants: VariantCache, shared_antares: Path
) -> None:
    source = shared_antares / "studies" / "multiple-ntc-sc-builder"
    study = study_variants.get(source, "thematic")
    settings = IniDocument.read(study / "settings/generaldata.ini")
    assert settings.get("general", "thematic-trimming") == "true"
    assert "FLOW QUAD." in settings.get_all("variables selection", "select_var -")
    original = (source / "input/links/source/properties.ini").read_bytes()
    assert (study / "input/links/source/properties.ini").read_bytes() == original
    run = real_solver.run(study, years=[0]).folder()
    links = run / "economy/mc-all/links/sink 1 - source/values-annual.txt"
    captions = {c.caption for c in read_table(links).columns}
    assert "FLOW LIN." in captions and not {"FLOW QUAD.", "CONG. PROB +"} & captions


def test_a_failing_study_reports_the_solvers_words(
    real_solver: RealSolver, shared_antares: Path
) -> None:
    run = real_solver.run(shared_antares / "studies" / "milp-accurate-uc")
    assert run.exit_code != 0 and run.fatal
    with pytest.raises(AssertionError, match="real solver failed on milp-accurate-uc"):
        run.folder()


def test_a_variant_that_does_not_apply_says_so_and_leaves_no_copy(
    shared_antares: Path, tmp_path: Path
) -> None:
    """The meshed variant closes a loop between two areas: a one-area study cannot have
    it (the fidelity sweep over every study and variant crashed there)."""
    cache = VariantCache(tmp_path)
    with pytest.raises(NotApplicable, match="the loop needs two areas; the study has 1"):
        cache.get(shared_antares / "studies" / "playlist-1-cold", "meshed")
    assert not (tmp_path / "meshed" / "playlist-1-cold").exists()
    two_areas = cache.get(shared_antares / "studies" / "multiple-ntc-sc-builder", "meshed")
    assert (two_areas / "input" / "links").is_dir()

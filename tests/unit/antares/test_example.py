"""The bundled example study: a valid 8.8 study, and the committed copy has not drifted."""

from __future__ import annotations

from pathlib import Path

import pytest

from winjobs.antares.example import (
    AREAS,
    LINKS,
    example_study_files,
    example_study_path,
    write_example_study,
)
from winjobs.antares.ini import IniDocument
from winjobs.antares.study import open_study


def _files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_committed_copy_is_what_the_generator_writes(tmp_path: Path) -> None:
    generated = write_example_study(tmp_path / "demo")
    committed = _files(example_study_path())
    fresh = _files(generated)
    assert sorted(committed) == sorted(fresh), "regenerate src/winjobs/examples/demo-study"
    changed = [name for name in fresh if committed[name] != fresh[name]]
    assert changed == [], "regenerate src/winjobs/examples/demo-study"


def test_bundled_study_facts() -> None:
    study = open_study(example_study_path())
    assert study.name == "demo-study"
    assert (study.version, study.mode, study.nbyears) == ("8.8", "economy", 8)
    assert study.years == tuple(range(8))
    assert dict(study.weights) == dict.fromkeys(range(8), 1.0)
    assert (study.year_by_year, study.synthesis, study.splittable) == (True, True, True)
    assert study.warnings == ()
    assert study.path.name == "demo-study"


def test_bundled_study_is_small() -> None:
    assert sum(len(content) for content in _files(example_study_path()).values()) < 2 * 2**20


def test_other_year_counts(tmp_path: Path) -> None:
    study = open_study(write_example_study(tmp_path / "s", nbyears=3))
    assert study.years == (0, 1, 2)
    with pytest.raises(ValueError, match="nbyears"):
        example_study_files(0)


def test_refuses_to_write_into_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "mine.txt").write_text("keep")
    with pytest.raises(FileExistsError):
        write_example_study(tmp_path / "s")
    assert [p.name for p in (tmp_path / "s").iterdir()] == ["mine.txt"]


def test_every_ini_parses_and_round_trips() -> None:
    files = example_study_files()
    inis = [name for name in files if name.endswith((".ini", ".antares", ".dat"))]
    assert len(inis) > 30
    for name in inis:
        assert IniDocument.parse(files[name]).to_bytes() == files[name], name


def test_areas_links_and_series_have_the_real_layout() -> None:
    files = example_study_files()
    assert files["input/areas/list.txt"] == b"north\nsouth\nwest\n"
    for area in AREAS:
        for name in ("optimization.ini", "ui.ini"):
            assert f"input/areas/{area}/{name}" in files
        for kind, columns in (("load", 3), ("wind", 2), ("solar", 2)):
            rows = files[f"input/{kind}/series/{kind}_{area}.txt"].decode().splitlines()
            assert len(rows) == 8760
            assert {len(row.split("\t")) for row in rows} == {columns}
            assert all(int(v) >= 0 for row in rows for v in row.split("\t"))
    for start, end in LINKS:
        properties = IniDocument.parse(files[f"input/links/{start}/properties.ini"])
        assert properties.get(end, "transmission-capacities") == "enabled"
        for direction in ("direct", "indirect"):
            rows = files[f"input/links/{start}/capacities/{end}_{direction}.txt"].splitlines()
            assert len(rows) == 8760
    general = IniDocument.parse(files["settings/generaldata.ini"])
    assert general.sections() == [
        "general",
        "input",
        "output",
        "optimization",
        "adequacy patch",
        "other preferences",
        "advanced parameters",
        "seeds - Mersenne Twister",
    ]
    assert general.get("general", "horizon") == ""
    assert general.get("other preferences", "initial-reservoir-levels") == "cold start"

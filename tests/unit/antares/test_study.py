"""open_study: the facts of every real study, and one clear error per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.antares.test_playlist import EXPECTED_YEARS, NBYEARS
from winjobs.antares.study import open_study, parse_version
from winjobs.errors import StudyError

# (version, mode, year_by_year, synthesis, splittable, hot start warning), read from each
# study's study.antares and generaldata.ini by hand.
EXPECTED_FACTS = {
    "adq-patch-new-out-vars-csr-v880": ("8.8", "economy", True, True, True, False),
    "bc-rhs-scenario-simple-v870": ("8.7", "economy", True, False, True, False),
    "final-levels-v920": ("9.2", "economy", True, False, True, False),
    "hybrid-3_8-v930": ("9.3", "economy", True, True, True, False),
    "hydro-H700-23": ("8.6", "economy", False, True, True, True),
    "milp-accurate-uc": ("8.6", "economy", True, True, True, False),
    "multiple-ntc-sc-builder": ("8.6", "economy", True, True, True, False),
    "multistage-derated": ("8.6", "economy", False, False, False, False),
    "playlist-1": ("8.6", "economy", False, False, True, True),
    "playlist-1-cold": ("8.6", "economy", False, False, True, False),
    "power-fluctuations-adequacy-v800": ("8.0", "adequacy", False, False, True, False),
    "test-parallel-00-eco-fast-24": ("8.6", "economy", False, True, True, False),
    "thermal-refresh": ("8.6", "economy", False, True, True, False),
    "ts-gen-thermal-stochastic": ("8.6", "economy", True, True, True, False),
    "unfeasible-problem-01-v810": ("8.1", "economy", False, False, True, False),
}


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(EXPECTED_FACTS))
def test_facts_of_every_shared_study(shared_antares: Path, name: str) -> None:
    study = open_study(shared_antares / "studies" / name)
    version, mode, year_by_year, synthesis, splittable, hot_start = EXPECTED_FACTS[name]
    years, weights = EXPECTED_YEARS[name]
    assert study.version == version
    assert study.mode == mode
    assert study.nbyears == NBYEARS[name]
    assert list(study.years) == years
    assert dict(study.weights) == weights
    assert study.year_by_year is year_by_year
    assert study.synthesis is synthesis
    assert study.splittable is splittable
    assert study.hot_start is hot_start
    assert any("hot start" in w for w in study.warnings) is hot_start
    assert len(study.warnings) == int(hot_start)


@pytest.mark.shared_data
def test_name_is_the_caption(shared_antares: Path) -> None:
    assert open_study(shared_antares / "studies" / "hybrid-3_8-v930").name == "five_steps"


GENERAL = """[general]
mode = Economy
horizon = 2030
nbyears = 4
year-by-year = true
derated = false
user-playlist = false

[output]
synthesis = true

[other preferences]
initial-reservoir-levels = cold start
"""


def _study(
    root: Path,
    *,
    study: str | None = "[antares]\nversion = 880\ncaption = demo\n",
    general: str | None = GENERAL,
) -> Path:
    folder = root / "s"
    (folder / "settings").mkdir(parents=True)
    if study is not None:
        (folder / "study.antares").write_text(study)
    if general is not None:
        (folder / "settings" / "generaldata.ini").write_text(general)
    return folder


def _problems(path: Path) -> list[str]:
    with pytest.raises(StudyError) as caught:
        open_study(path)
    assert caught.value.exit_code == 2
    return caught.value.problems


def test_a_valid_minimal_study(tmp_path: Path) -> None:
    study = open_study(_study(tmp_path))
    assert (study.name, study.version, study.mode, study.nbyears) == ("demo", "8.8", "economy", 4)
    assert study.years == (0, 1, 2, 3)
    assert study.warnings == ()
    assert study.version_info == (8, 8)


def test_name_falls_back_to_the_folder_name(tmp_path: Path) -> None:
    assert open_study(_study(tmp_path, study="[antares]\nversion = 9.2\n")).name == "s"


def test_not_a_folder(tmp_path: Path) -> None:
    assert _problems(tmp_path / "nope") == [f"{tmp_path / 'nope'} does not exist"]
    file = tmp_path / "f.txt"
    file.write_text("x")
    assert "is not a folder" in _problems(file)[0]


def test_missing_files_are_all_listed(tmp_path: Path) -> None:
    problems = _problems(_study(tmp_path, study=None, general=None))
    assert len(problems) == 2
    assert "no study.antares" in problems[0]
    assert "no settings/generaldata.ini" in problems[1]


def test_missing_study_antares_alone(tmp_path: Path) -> None:
    assert len(_problems(_study(tmp_path, study=None))) == 1


@pytest.mark.parametrize(
    ("version_line", "message"),
    [
        ("caption = x", "version is missing"),
        ("version = ", "version is missing"),
        ("version = eight", "is not a version number"),
        ("version = 710", "Antares version 7.1 is not supported"),
        ("version = 10.0", "Antares version 10.0 is not supported"),
    ],
)
def test_bad_versions(tmp_path: Path, version_line: str, message: str) -> None:
    problems = _problems(_study(tmp_path, study=f"[antares]\n{version_line}\n"))
    assert len(problems) == 1
    assert message in problems[0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("880", (8, 8)), ("800", (8, 0)), ("860", (8, 6)), ("9.2", (9, 2)), (" 9.3 ", (9, 3))],
)
def test_parse_version(raw: str, expected: tuple[int, int]) -> None:
    assert parse_version(raw) == expected


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("nbyears = 4\n", "", "nbyears is missing"),
        ("nbyears = 4", "nbyears = four", "is not an integer"),
        ("nbyears = 4", "nbyears = 2.5", "is not an integer"),
        ("nbyears = 4", "nbyears = 0", "must be >= 1"),
        ("nbyears = 4", "nbyears = -3", "is not an integer"),
        ("mode = Economy", "mode = Simulation", "unknown [general] mode"),
        ("mode = Economy", "mode = draft", "unknown [general] mode"),
    ],
)
def test_bad_generaldata(tmp_path: Path, old: str, new: str, message: str) -> None:
    problems = _problems(_study(tmp_path, general=GENERAL.replace(old, new)))
    assert len(problems) == 1
    assert message in problems[0]


def test_negative_weight(tmp_path: Path) -> None:
    general = GENERAL + "\n[playlist]\nplaylist_year_weight = 2,-1.5\n"
    problems = _problems(_study(tmp_path, general=general))
    assert problems == [
        "[playlist] 'playlist_year_weight = 2,-1.5': negative weight -1.5 for year 2"
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    general = GENERAL.replace("mode = Economy", "mode = Sideways").replace(
        "nbyears = 4", "nbyears = x"
    )
    problems = _problems(_study(tmp_path, study="[antares]\nversion = 600\n", general=general))
    assert len(problems) == 3
    text = " | ".join(problems)
    for expected in ("version 6.0 is not supported", "unknown [general] mode", "not an integer"):
        assert expected in text


def test_unreadable_ini_is_a_problem(tmp_path: Path) -> None:
    problems = _problems(_study(tmp_path, general="[general]\nthis is not ini\n"))
    assert len(problems) == 1
    assert "line 2" in problems[0]


def test_mode_variants(tmp_path: Path) -> None:
    study = open_study(_study(tmp_path, general=GENERAL.replace("Economy", "ADEQUACY")))
    assert study.mode == "adequacy"


def test_missing_mode_defaults_to_economy_with_a_warning(tmp_path: Path) -> None:
    study = open_study(_study(tmp_path, general=GENERAL.replace("mode = Economy\n", "")))
    assert study.mode == "economy"
    assert study.warnings == ("[general] mode is missing: the solver runs it as economy",)


def test_true_false_spelling_of_9_3(tmp_path: Path) -> None:
    general = GENERAL.replace("= true", "= True").replace("= false", "= False")
    general = general.replace("synthesis = True", "synthesis = False")
    study = open_study(_study(tmp_path, study="[antares]\nversion = 9.3\n", general=general))
    assert (study.year_by_year, study.synthesis, study.splittable) == (True, False, True)


def test_derated_is_not_splittable_and_runs_one_year(tmp_path: Path) -> None:
    study = open_study(
        _study(tmp_path, general=GENERAL.replace("derated = false", "derated = true"))
    )
    assert study.splittable is False
    assert study.years == (0,)
    assert study.warnings == ("derated = true: the solver runs a single year, not nbyears = 4",)


def test_hot_start_warns_on_8x_only(tmp_path: Path) -> None:
    general = GENERAL.replace("cold start", "Hot Start")
    study = open_study(_study(tmp_path, general=general))
    assert study.hot_start is True
    assert "will NOT reproduce a single run" in study.warnings[0]
    (tmp_path / "s" / "study.antares").write_text("[antares]\nversion = 9.2\n")
    assert open_study(tmp_path / "s").warnings == ()


def test_playlist_year_beyond_nbyears_warns(tmp_path: Path) -> None:
    general = GENERAL.replace("user-playlist = false", "user-playlist = true")
    general += "\n[playlist]\nplaylist_reset = false\nplaylist_year + = 1\nplaylist_year + = 9\n"
    study = open_study(_study(tmp_path, general=general))
    assert study.years == (1,)
    assert len(study.warnings) == 1
    assert "names year 9 but nbyears = 4" in study.warnings[0]


def test_study_is_frozen(tmp_path: Path) -> None:
    study = open_study(_study(tmp_path))
    with pytest.raises(AttributeError):
        study.nbyears = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        study.weights[0] = 2.0  # type: ignore[index]

"""Active MC years and weights as the solver computes them; the task copy of generaldata."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import shared_studies
from winjobs.antares.ini import IniDocument
from winjobs.antares.playlist import (
    active_years,
    evaluate_playlist,
    task_generaldata,
    write_task_playlist,
)
from winjobs.errors import StudyError

# Derived by reading each study's settings/generaldata.ini and applying FORMAT.md section 2
# by hand (nbyears; user-playlist; playlist_reset / + / - lines; weights):
#   playlist-1(-cold): user-playlist = true, `playlist_year - = 0`, weights 0:4, 1:10, 2:3
#     -> years 1, 2 with weights 10 and 3 (year 0's weight does not matter, it is off);
#   test-parallel-00-eco-fast-24: user-playlist = true, reset false, `+ = 0` -> year 0;
#   multistage-derated: derated = true, nbyears = 1 -> year 0;
#   all others: user-playlist = false -> every year 0..nbyears-1, weight 1.
EXPECTED_YEARS: dict[str, tuple[list[int], dict[int, float]]] = {
    "adq-patch-new-out-vars-csr-v880": ([0], {0: 1.0}),
    "bc-rhs-scenario-simple-v870": ([0, 1], {0: 1.0, 1: 1.0}),
    "final-levels-v920": ([0, 1], {0: 1.0, 1: 1.0}),
    "hybrid-3_8-v930": ([0, 1], {0: 1.0, 1: 1.0}),
    "hydro-H700-23": (list(range(10)), dict.fromkeys(range(10), 1.0)),
    "milp-accurate-uc": ([0], {0: 1.0}),
    "multiple-ntc-sc-builder": ([0, 1, 2, 3, 4], dict.fromkeys(range(5), 1.0)),
    "multistage-derated": ([0], {0: 1.0}),
    "playlist-1": ([1, 2], {1: 10.0, 2: 3.0}),
    "playlist-1-cold": ([1, 2], {1: 10.0, 2: 3.0}),
    "power-fluctuations-adequacy-v800": ([0, 1, 2, 3, 4], dict.fromkeys(range(5), 1.0)),
    "test-parallel-00-eco-fast-24": ([0], {0: 1.0}),
    "thermal-refresh": (list(range(10)), dict.fromkeys(range(10), 1.0)),
    "ts-gen-thermal-stochastic": ([0, 1, 2], {0: 1.0, 1: 1.0, 2: 1.0}),
    "unfeasible-problem-01-v810": (list(range(12)), dict.fromkeys(range(12), 1.0)),
}
NBYEARS = {
    "adq-patch-new-out-vars-csr-v880": 1,
    "bc-rhs-scenario-simple-v870": 2,
    "final-levels-v920": 2,
    "hybrid-3_8-v930": 2,
    "hydro-H700-23": 10,
    "milp-accurate-uc": 1,
    "multiple-ntc-sc-builder": 5,
    "multistage-derated": 1,
    "playlist-1": 3,
    "playlist-1-cold": 3,
    "power-fluctuations-adequacy-v800": 5,
    "test-parallel-00-eco-fast-24": 3,
    "thermal-refresh": 10,
    "ts-gen-thermal-stochastic": 3,
    "unfeasible-problem-01-v810": 12,
}


def _generaldata(study: Path) -> IniDocument:
    return IniDocument.read(study / "settings" / "generaldata.ini")


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(EXPECTED_YEARS))
def test_active_years_of_every_shared_study(shared_antares: Path, name: str) -> None:
    doc = _generaldata(shared_antares / "studies" / name)
    years, weights, warnings = active_years(doc, NBYEARS[name])
    assert (years, weights) == EXPECTED_YEARS[name]
    assert warnings == []


@pytest.mark.shared_data
def test_table_covers_every_shared_study(shared_antares: Path) -> None:
    assert {study.name for study in shared_studies()} == set(EXPECTED_YEARS)


def _doc(general: str, playlist: str | None = None, *, tail: str = "") -> IniDocument:
    text = f"[general]\nmode = Economy\n{general}\n"
    if playlist is not None:
        text += f"\n[playlist]\n{playlist}\n"
    return IniDocument.parse((text + tail).encode())


@pytest.mark.parametrize(
    ("general", "playlist", "years", "weights"),
    [
        # no user playlist: everything runs with weight 1, the [playlist] is ignored
        ("nbyears = 4\nuser-playlist = false", "playlist_year - = 1", [0, 1, 2, 3], {}),
        # `playlist_reset` absent -> starts from all years
        ("nbyears = 4\nuser-playlist = true", "playlist_year - = 1", [0, 2, 3], {}),
        (
            "nbyears = 4\nuser-playlist = true",
            "playlist_reset = true\nplaylist_year - = 3",
            [0, 1, 2],
            {},
        ),
        # reset false, + lines; file order matters
        (
            "nbyears = 6\nuser-playlist = true",
            "playlist_reset = false\nplaylist_year + = 4\nplaylist_year + = 1",
            [1, 4],
            {},
        ),
        (
            "nbyears = 4\nuser-playlist = true",
            "playlist_year + = 1\nplaylist_reset = false\nplaylist_year + = 2",
            [2],
            {},
        ),
        (
            "nbyears = 4\nuser-playlist = true",
            "playlist_reset = false\nplaylist_year + = 2\nplaylist_year - = 2\nplaylist_year + = 0",
            [0],
            {},
        ),
        # weights: only active years reported, last weight line wins, 0 allowed
        (
            "nbyears = 3\nuser-playlist = true",
            "playlist_year_weight = 0,2.5\nplaylist_year_weight = 0,3\nplaylist_year_weight = 2,0",
            [0, 1, 2],
            {0: 3.0, 2: 0.0},
        ),
        (
            "nbyears = 3\nuser-playlist = true",
            "playlist_year - = 1\nplaylist_year_weight = 1,7",
            [0, 2],
            {},
        ),
        # values written True/False (9.3) and other words the solver reads as booleans
        (
            "nbyears = 3\nuser-playlist = True",
            "playlist_reset = FALSE\nplaylist_year + = 2",
            [2],
            {},
        ),
        ("nbyears = 3\nuser-playlist = yes", "playlist_year - = 0", [1, 2], {}),
        ("nbyears = 3\nuser-playlist = maybe", "playlist_year - = 0", [0, 1, 2], {}),
        # keys are case-insensitive
        ("NbYears = 3\nUser-Playlist = true", "Playlist_Year - = 0", [1, 2], {}),
        # derated: year 0 alone (a user playlist would be a problem: the solver stops)
        ("nbyears = 3\nderated = true", "playlist_reset = false", [0], {}),
    ],
)
def test_playlist_rules(
    general: str, playlist: str, years: list[int], weights: dict[int, float]
) -> None:
    nbyears = int(re.search(r"nbyears = (\d+)", general, re.IGNORECASE).group(1))  # type: ignore[union-attr]
    got_years, got_weights, _ = active_years(_doc(general, playlist), nbyears)
    assert got_years == years
    assert got_weights == {year: weights.get(year, 1.0) for year in years}


def test_nbyears_after_the_playlist_resets_it() -> None:
    """The solver applies keys in file order and `nbyears` resets the playlist."""
    doc = IniDocument.parse(
        b"[playlist]\nplaylist_reset = false\nplaylist_year + = 1\n"
        b"[general]\nnbyears = 3\nuser-playlist = true\n"
    )
    assert active_years(doc, 3)[0] == [0, 1, 2]


def test_unknown_section_names_and_keys_not_starting_with_a_letter_are_skipped() -> None:
    doc = _doc(
        "nbyears = 3\nuser-playlist = true",
        "_playlist_year - = 0\n",
        tail="[playlists]\nplaylist_year - = 1\n",
    )
    assert active_years(doc, 3)[0] == [0, 1, 2]


def test_year_beyond_nbyears_is_ignored_with_a_warning() -> None:
    doc = _doc(
        "nbyears = 3\nuser-playlist = true",
        "playlist_reset = false\nplaylist_year + = 1\nplaylist_year + = 3",
    )
    years, _, warnings = active_years(doc, 3)
    assert years == [1]
    assert len(warnings) == 1
    assert "names year 3 but nbyears = 3" in warnings[0]
    assert "ignores" in warnings[0]


@pytest.mark.parametrize(
    "line",
    [
        "playlist_year + = x",
        "playlist_year - = -1",
        "playlist_year_weight = 1",
        "playlist_year_weight = a,b",
        "playlist_year_weight = 7,2",
    ],
)
def test_malformed_or_out_of_range_lines_are_warnings(line: str) -> None:
    doc = _doc("nbyears = 3\nuser-playlist = true", line)
    years, weights, warnings = active_years(doc, 3)
    assert years == [0, 1, 2]
    assert weights == {0: 1.0, 1: 1.0, 2: 1.0}
    assert len(warnings) == 1


def test_ignored_playlist_is_reported() -> None:
    _, _, warnings = active_years(
        _doc("nbyears = 3\nuser-playlist = false", "playlist_year - = 0"), 3
    )
    assert warnings == ["user-playlist = false: the [playlist] section is ignored, all years run"]


def test_negative_weight_is_a_problem() -> None:
    doc = _doc("nbyears = 3\nuser-playlist = true", "playlist_year_weight = 1,-2")
    assert evaluate_playlist(doc, 3).problems == [
        "[playlist] 'playlist_year_weight = 1,-2': negative weight -2 for year 1"
    ]
    with pytest.raises(StudyError, match="negative weight"):
        active_years(doc, 3)


def test_empty_playlist_is_a_problem() -> None:
    doc = _doc("nbyears = 3\nuser-playlist = true", "playlist_reset = false")
    with pytest.raises(StudyError, match="selects no MC year"):
        active_years(doc, 3)


# -- property test against a model written as plain set operations ---------------------------

_ops = st.lists(
    st.one_of(
        st.tuples(st.just("reset"), st.booleans()),
        st.tuples(st.sampled_from(["+", "-"]), st.integers(0, 9)),
        st.tuples(
            st.just("w"), st.tuples(st.integers(0, 9), st.sampled_from([0.0, 0.5, 1.0, 2.0, 10.0]))
        ),
    ),
    max_size=15,
)


@settings(deadline=None)  # the CI machine is shared: timing is noise
@given(st.integers(1, 8), st.booleans(), _ops)
def test_playlist_matches_a_set_model(nbyears: int, user: bool, ops: list) -> None:
    lines: list[str] = []
    on = set(range(nbyears))
    weight: dict[int, float] = {}
    for kind, arg in ops:
        if kind == "reset":
            lines.append(f"playlist_reset = {'true' if arg else 'false'}")
            on = set(range(nbyears)) if arg else set()
        elif kind in "+-":
            lines.append(f"playlist_year {kind} = {arg}")
            if arg < nbyears:
                on = on | {arg} if kind == "+" else on - {arg}
        else:
            year, w = arg
            lines.append(f"playlist_year_weight = {year},{w:f}")
            if year < nbyears:
                weight[year] = w
    doc = _doc(f"nbyears = {nbyears}\nuser-playlist = {str(user).lower()}", "\n".join(lines))
    result = evaluate_playlist(doc, nbyears)
    expected = sorted(on) if user else list(range(nbyears))
    assert result.years == expected
    assert result.weights == {y: (weight.get(y, 1.0) if user else 1.0) for y in expected}
    assert bool(result.problems) == (user and not on)


# -- the task copy -------------------------------------------------------------------------

_SECTION = re.compile(rb"^\[(.*)\]")


def _outside_playlist(data: bytes) -> list[bytes]:
    """Lines outside [playlist] sections, with the user-playlist value blanked out."""
    kept: list[bytes] = []
    section = b""
    for line in data.split(b"\n"):
        match = _SECTION.match(line)
        if match:
            section = match.group(1).lower()
        if section == b"playlist" or not line.strip():
            continue
        if line.lower().startswith(b"user-playlist"):
            line = b"user-playlist = <changed>"
        kept.append(line)
    return kept


def _subsets(years: list[int]) -> list[list[int]]:
    subsets = [[year] for year in years] + [years, years[::2]]
    return [s for s in subsets if s]


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(EXPECTED_YEARS))
def test_task_copy_of_every_shared_study(shared_antares: Path, name: str) -> None:
    path = shared_antares / "studies" / name / "settings" / "generaldata.ini"
    original = path.read_bytes()
    doc = IniDocument.parse(original)
    years, weights = EXPECTED_YEARS[name]
    for subset in _subsets(years):
        task = task_generaldata(doc, subset)
        data = task.to_bytes()
        if name == "multistage-derated":  # played as it is: see test_a_derated_study...
            assert data == original
            continue
        assert _outside_playlist(data) == _outside_playlist(original)
        assert IniDocument.parse(data).get("general", "user-playlist") == "true"
        assert task.items("playlist")[:1] == [("playlist_reset", "false")]
        got_years, got_weights, _ = active_years(IniDocument.parse(data), NBYEARS[name])
        assert got_years == subset
        assert got_weights == {year: weights[year] for year in subset}
    assert doc.to_bytes() == original  # the input document is not modified


@pytest.mark.shared_data
def test_task_copy_of_playlist_1_is_exactly_what_antares_would_write(shared_antares: Path) -> None:
    doc = _generaldata(shared_antares / "studies" / "playlist-1")
    task = task_generaldata(doc, [2])
    assert task.items("playlist") == [
        ("playlist_reset", "false"),
        ("playlist_year +", "2"),
        ("playlist_year_weight", "2,3.000000"),
    ]


def test_task_copy_moves_a_playlist_that_nbyears_would_reset() -> None:
    doc = IniDocument.parse(
        b"[playlist]\nplaylist_year - = 0\n\n[general]\nnbyears = 3\nuser-playlist = false\n"
    )
    task = task_generaldata(doc, [1])
    assert task.to_bytes() == (
        b"[general]\nnbyears = 3\nuser-playlist = true\n\n"
        b"[playlist]\nplaylist_reset = false\nplaylist_year + = 1\n\n"
    )


def test_task_copy_adds_user_playlist_when_missing() -> None:
    doc = _doc("nbyears = 4")
    task = task_generaldata(doc, [3, 1, 3])
    assert task.get("general", "user-playlist") == "true"
    assert active_years(task, 4)[0] == [1, 3]


@pytest.mark.parametrize(
    ("years", "message"), [([], "at least one"), ([5], "not active"), ([0], "not active")]
)
def test_task_copy_rejects_years_the_study_does_not_run(years: list[int], message: str) -> None:
    doc = _doc("nbyears = 4\nuser-playlist = true", "playlist_year - = 0")
    with pytest.raises(StudyError, match=message):
        task_generaldata(doc, years)


@pytest.mark.shared_data
def test_write_task_playlist_rewrites_the_study_copy(shared_antares: Path, tmp_path: Path) -> None:
    study = tmp_path / "study"
    shutil.copytree(shared_antares / "studies" / "thermal-refresh", study)
    write_task_playlist(study, [4, 7])
    doc = _generaldata(study)
    assert active_years(doc, 10)[0] == [4, 7]
    assert sorted(p.name for p in (study / "settings").iterdir()) == sorted(
        p.name for p in (shared_antares / "studies" / "thermal-refresh" / "settings").iterdir()
    )


def test_a_derated_study_plays_as_it_is() -> None:
    """The real 8.8 solver stops ("The simulation must stop") on a derated study with a
    user playlist: its one task (year 0) keeps the file byte for byte, and a user
    playlist in a derated study is a problem."""
    doc = _doc("nbyears = 3\nderated = true\nuser-playlist = false", "playlist_reset = false")
    assert task_generaldata(doc, [0]).to_bytes() == doc.to_bytes()
    with pytest.raises(StudyError, match="not active"):
        task_generaldata(doc, [1])
    refused = _doc("nbyears = 1\nderated = true\nuser-playlist = true", "playlist_reset = false")
    with pytest.raises(StudyError, match="derated = true with user-playlist = true"):
        task_generaldata(refused, [0])

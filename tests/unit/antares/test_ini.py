"""IniDocument: byte-exact round trip, solver-like lookups, edits that touch nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import SHARED_ANTARES, shared_studies
from winjobs.antares.ini import IniDocument, as_bool, as_uint
from winjobs.errors import IniError


def _shared_ini_files() -> list[Path]:
    files: list[Path] = []
    for study in shared_studies():
        files += sorted(study.rglob("*.ini"))
        files.append(study / "study.antares")
    return files


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "path",
    _shared_ini_files() or [None],
    ids=lambda p: str(p.relative_to(SHARED_ANTARES / "studies")) if p else "absent",
)
def test_every_shared_ini_round_trips_byte_for_byte(shared_antares: Path, path: Path) -> None:
    data = path.read_bytes()
    assert IniDocument.parse(data).to_bytes() == data


@pytest.mark.shared_data
def test_shared_study_set_is_complete(shared_antares: Path) -> None:
    """Guard against the parametrisation above silently shrinking."""
    assert len(shared_studies()) == 15
    assert len(_shared_ini_files()) > 400


SAMPLE = (
    b"[general]\n"
    b"mode = Economy\n"
    b"horizon = \n"
    b"nbyears = 3\n"
    b"NbYears  =  5  \n"
    b"\n"
    b"; a comment\n"
    b"[playlist]\n"
    b"playlist_reset = false\n"
    b"playlist_year + = 0\n"
    b"playlist_year + = 2\n"
    b"\n"
    b"[General]\n"
    b"derated = True\n"
    b"\n"
)


def test_lookups_are_case_insensitive_and_the_last_occurrence_wins() -> None:
    doc = IniDocument.parse(SAMPLE)
    assert doc.get("GENERAL", "nbyears") == "5"  # second [general] line, trimmed
    assert doc.get("general", "derated") == "True"  # second [General] block
    assert doc.get_all("general", "NBYEARS") == ["3", "5"]
    assert doc.get("general", "horizon") == ""
    assert doc.get("general", "missing") is None
    assert doc.get("general", "missing", "x") == "x"
    assert doc.get("nosuch", "mode") is None


def test_items_keep_file_order_and_repeated_keys() -> None:
    doc = IniDocument.parse(SAMPLE)
    assert doc.items("playlist") == [
        ("playlist_reset", "false"),
        ("playlist_year +", "0"),
        ("playlist_year +", "2"),
    ]
    assert doc.items("general")[-1] == ("derated", "True")
    assert doc.sections() == ["general", "playlist"]
    assert doc.entries()[0] == ("general", "mode", "Economy")


def test_key_with_nothing_after_equals_is_invisible_like_in_the_solver() -> None:
    doc = IniDocument.parse(b"[a]\nk =\nj = 1\n")
    assert doc.get("a", "k") is None
    assert doc.items("a") == [("j", "1")]
    assert doc.to_bytes() == b"[a]\nk =\nj = 1\n"


def test_section_names_are_not_trimmed_like_in_the_solver() -> None:
    doc = IniDocument.parse(b"[ general ]\nnbyears = 3\n")
    assert doc.get("general", "nbyears") is None
    assert doc.get(" general ", "nbyears") == "3"


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf[antares]\r\nversion = 880\r\ncaption = caf\xe9\r\n",  # BOM, CRLF, Latin-1
        b"[a]\nk = v",  # no final newline
        b"",
        b"\n\n",
        b"# only a comment\n",
        b"[a]\n  k   =   spaced value  \t\n",
    ],
)
def test_odd_files_round_trip(data: bytes) -> None:
    assert IniDocument.parse(data).to_bytes() == data


def test_bom_and_crlf_do_not_leak_into_names_or_values() -> None:
    doc = IniDocument.parse(b"\xef\xbb\xbf[antares]\r\nversion = 880\r\n")
    assert doc.get("antares", "version") == "880"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[a]\njust words\n", "line 2"),
        (b"k = v\n[a]\n", r"before any \[section\]"),
        (b"[unclosed\nk = v\n", r"without .\]."),
        (b"[]\n", "empty section name"),
        (b"[a]\nk = \x00\n", "NUL"),
    ],
)
def test_unreadable_lines_raise_ini_error(data: bytes, message: str) -> None:
    with pytest.raises(IniError, match=message):
        IniDocument.parse(data)


def test_read_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.ini"
    path.write_bytes(b"[a]\ngarbage\n")
    with pytest.raises(IniError, match=r"bad\.ini: line 2"):
        IniDocument.read(path)
    with pytest.raises(IniError, match="cannot read"):
        IniDocument.read(tmp_path / "missing.ini")


def _changed_lines(before: bytes, after: bytes) -> list[tuple[bytes, bytes]]:
    old, new = before.split(b"\n"), after.split(b"\n")
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def test_set_rewrites_only_the_value_of_the_last_occurrence() -> None:
    doc = IniDocument.parse(SAMPLE)
    doc.set("general", "nbyears", "7")
    assert _changed_lines(SAMPLE, doc.to_bytes()) == [(b"NbYears  =  5  ", b"NbYears  =  7  ")]
    assert doc.get("general", "nbyears") == "7"


def test_set_an_empty_value_and_back() -> None:
    doc = IniDocument.parse(SAMPLE)
    doc.set("general", "horizon", "2030")
    assert _changed_lines(SAMPLE, doc.to_bytes()) == [(b"horizon = ", b"horizon = 2030")]
    doc.set("general", "horizon", "")
    assert doc.to_bytes() == SAMPLE


def test_set_a_missing_key_adds_one_line_at_the_end_of_the_sections_last_block() -> None:
    doc = IniDocument.parse(SAMPLE)
    doc.set("playlist", "playlist_year_weight", "0,2.5")
    expected = SAMPLE.replace(
        b"playlist_year + = 2\n", b"playlist_year + = 2\nplaylist_year_weight = 0,2.5\n"
    )
    assert doc.to_bytes() == expected


def test_set_a_missing_section_appends_it() -> None:
    data = b"[a]\nk = v"  # no final newline, no blank line
    doc = IniDocument.parse(data)
    doc.set("b", "x", "1")
    assert doc.to_bytes() == b"[a]\nk = v\n\n[b]\nx = 1\n\n"


def test_new_lines_use_the_files_line_ends() -> None:
    doc = IniDocument.parse(b"[a]\r\nk = v\r\n")
    doc.set("a", "j", "2")
    assert doc.to_bytes() == b"[a]\r\nk = v\r\nj = 2\r\n"


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [("a", "k", "two\nlines"), ("a", "k=x", "1"), ("a]", "k", "1"), ("a", "; k", "1")],
)
def test_set_refuses_text_that_would_break_the_file(section: str, key: str, value: str) -> None:
    doc = IniDocument.parse(SAMPLE)
    with pytest.raises(IniError):
        doc.set(section, key, value)
    assert doc.to_bytes() == SAMPLE


def test_replace_section_touches_no_other_section() -> None:
    doc = IniDocument.parse(SAMPLE)
    doc.replace_section("playlist", [("playlist_reset", "true")])
    after = doc.to_bytes()
    assert after == SAMPLE.replace(
        b"playlist_reset = false\nplaylist_year + = 0\nplaylist_year + = 2\n",
        b"playlist_reset = true\n",
    )


def test_replace_section_merges_repeated_blocks_into_the_first() -> None:
    doc = IniDocument.parse(SAMPLE)
    doc.replace_section("general", [("mode", "Adequacy")])
    assert doc.to_bytes() == (
        b"[general]\nmode = Adequacy\n\n; a comment\n[playlist]\nplaylist_reset = false\n"
        b"playlist_year + = 0\nplaylist_year + = 2\n\n"
    )
    assert doc.items("general") == [("mode", "Adequacy")]


def test_replace_missing_section_appends_and_remove_section() -> None:
    doc = IniDocument.parse(SAMPLE)
    doc.replace_section("output", [("synthesis", "false")])
    assert doc.to_bytes() == SAMPLE + b"[output]\nsynthesis = false\n\n"
    assert doc.remove_section("output") is True
    assert doc.to_bytes() == SAMPLE
    assert doc.remove_section("output") is False


def test_copy_is_independent() -> None:
    doc = IniDocument.parse(SAMPLE)
    clone = doc.copy()
    clone.set("general", "mode", "Adequacy")
    assert doc.to_bytes() == SAMPLE


def test_write_is_atomic_and_exact(tmp_path: Path) -> None:
    path = tmp_path / "g.ini"
    path.write_bytes(SAMPLE)
    doc = IniDocument.read(path)
    doc.set("general", "mode", "Adequacy")
    doc.write(path)
    assert path.read_bytes() == doc.to_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["g.ini"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("True", True),
        (" YES ", True),
        ("on", True),
        ("1", True),
        ("t", True),
        ("y", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("maybe", False),
        ("", False),
        (None, False),
    ],
)
def test_as_bool_follows_the_solver(text: str | None, expected: bool) -> None:
    assert as_bool(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"), [("3", 3), (" 12 ", 12), ("-1", None), ("3.0", None), ("x", None)]
)
def test_as_uint(text: str, expected: int | None) -> None:
    assert as_uint(text) == expected


_names = st.text(
    alphabet=st.characters(blacklist_characters="[]=;#\r\n\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() != "")
_values = st.text(
    alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)),
    max_size=20,
)
_spaces = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def _ini_texts(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, str, str]]]:
    """Random INI text plus the (section, key, value) triples a reader must find in it."""
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    out: list[str] = []
    expected: list[tuple[str, str, str]] = []
    for section in draw(st.lists(_names, max_size=4)):
        out.append(f"[{section}]{eol}")
        for key, value in draw(st.lists(st.tuples(_names, _values), max_size=5)):
            after = f"{draw(_spaces)}{value}{draw(_spaces)}"
            out.append(f"{draw(_spaces)}{key}{draw(_spaces)}={after}{eol}")
            if after:  # `key =` with nothing after '=' is dropped, like the solver does
                expected.append((section, key.strip(" \t"), value.strip(" \t")))
        if draw(st.booleans()):
            out.append(eol)
        if draw(st.booleans()):
            out.append(f"; comment{eol}")
    text = "".join(out)
    if draw(st.booleans()):
        text = text.rstrip("\r\n")
    return text.encode("utf-8"), expected


@settings(deadline=None)  # the CI machine is shared: timing is noise
@given(_ini_texts())
def test_generated_ini_round_trips_and_reads_back(
    sample: tuple[bytes, list[tuple[str, str, str]]],
) -> None:
    data, expected = sample
    doc = IniDocument.parse(data)
    assert doc.to_bytes() == data
    assert doc.entries() == expected


@settings(deadline=None)  # the CI machine is shared: timing is noise
@given(_ini_texts(), _names, _names, _values)
def test_generated_set_changes_exactly_what_it_says(
    sample: tuple[bytes, list[tuple[str, str, str]]], section: str, key: str, value: str
) -> None:
    data, _ = sample
    doc = IniDocument.parse(data)
    before = doc.entries()
    doc.set(section, key, value)
    reread = IniDocument.parse(doc.to_bytes())
    assert reread.get(section, key) == value.strip(" \t")
    target = (section.lower(), key.strip(" \t").lower())
    untouched = [e for e in before if (e[0].lower(), e[1].lower()) != target]
    assert [e for e in reread.entries() if (e[0].lower(), e[1].lower()) != target] == untouched


def _lookups(doc: IniDocument) -> dict[tuple[str, str], tuple[str | None, list[str]]]:
    """What `get` and `get_all` answer for every (section, key) the document holds."""
    return {
        (section, key): (doc.get(section, key), doc.get_all(section, key))
        for section, key, _ in doc.entries()
    }


_edits = st.lists(
    st.one_of(
        st.tuples(st.just("set"), _names, _names, _values),
        st.tuples(st.just("replace"), _names, _names, _values),
        st.tuples(st.just("remove"), _names, _names, _values),
    ),
    max_size=6,
)


@settings(deadline=None)  # the CI machine is shared: timing is noise
@given(_ini_texts(), _edits)
def test_look_ups_after_edits_read_like_the_file_parsed_again(
    sample: tuple[bytes, list[tuple[str, str, str]]], edits: list[tuple[str, str, str, str]]
) -> None:
    """Look-ups go through an index of the keys built at the first one: every edit
    must leave them answering what the edited file, parsed afresh, answers."""
    doc = IniDocument.parse(sample[0])
    _lookups(doc)  # the index is built before the edits
    for kind, section, key, value in edits:
        if kind == "set":
            doc.set(section, key, value)
        elif kind == "replace":
            doc.replace_section(section, [(key, value)])
        else:
            doc.remove_section(section)
        assert _lookups(doc) == _lookups(IniDocument.parse(doc.to_bytes()))

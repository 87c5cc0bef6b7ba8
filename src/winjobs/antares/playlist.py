"""Which Monte-Carlo years a study runs, with which weights, exactly as the solver decides.

The solver (Antares `Parameters::loadFromINI`, 8.8 and 9.x) walks `generaldata.ini` in
file order, section after section (names lower-cased, unknown sections skipped, keys not
starting with a letter skipped), and applies each property as it comes:

- `[general] nbyears = N` resets the playlist: all N years active, every weight 1. So
  only playlist lines AFTER the last `nbyears` line matter;
- `[general] user-playlist`: when false, all years run with weight 1, whatever
  `[playlist]` says; `[general] derated = true` runs year 0 alone (with `user-playlist =
  true` the 8.8 solver stops on a load warning, so that is a problem here);
- `[playlist] playlist_reset = b`: every year active (b true) or none (b false);
- `playlist_year + = i` / `playlist_year - = i`: year i (0-based) on/off; i >= N is
  silently ignored by the solver, we warn;
- `playlist_year_weight = i,w`: weight of year i; the solver ignores a negative weight
  with a log line, we report it as a problem (the study is wrong).

Weights are reported as the decimal values written in the file; the solver holds them as
32-bit floats, a difference far below the printed precision of its outputs.

A task's copy of a study plays a subset of these years: `task_generaldata` rewrites only
the playlist (`user-playlist = true`, `playlist_reset = false`, one `+` line per year, the
original weights) and checks its own result with the same evaluation; a derated study's
only task (year 0) keeps the file unchanged.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from winjobs.antares.ini import IniDocument, as_bool, as_uint
from winjobs.errors import StudyError

__all__ = [
    "GENERALDATA",
    "MAX_MC_YEARS",
    "Playlist",
    "active_years",
    "evaluate_playlist",
    "task_generaldata",
    "write_task_playlist",
]

#: Where the run settings live inside a study folder.
GENERALDATA = Path("settings") / "generaldata.ini"
#: The solver's hard limit on `nbyears`.
MAX_MC_YEARS = 100_000

_PLUS, _MINUS, _WEIGHT = "playlist_year +", "playlist_year -", "playlist_year_weight"


@dataclass(frozen=True)
class Playlist:
    """The solver's view of the playlist of one `generaldata.ini`.

    `weight_text` keeps each weighted year's weight as written, so a task copy repeats it
    byte for byte. `problems` are errors that must stop a submission.
    """

    years: list[int]
    weights: dict[int, float]
    warnings: list[str]
    problems: list[str]
    weight_text: dict[int, str]


def _parse_weight(value: str) -> tuple[int, float, str] | None:
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 2:
        return None
    year = as_uint(parts[0])
    try:
        weight = float(parts[1])
    except ValueError:
        return None
    if year is None or weight != weight:  # NaN
        return None
    return year, weight, parts[1]


@dataclass
class _State:
    """Mutable state while replaying the file, like the solver's Parameters object."""

    nbyears: int
    active: list[bool]
    weight: list[float]
    weight_text: dict[int, str]
    user_playlist: bool = False
    derated: bool = False
    has_playlist_lines: bool = False

    @classmethod
    def fresh(cls, nbyears: int) -> _State:
        return cls(nbyears, [True] * nbyears, [1.0] * nbyears, {})

    def reset_years(self) -> None:
        self.active = [True] * self.nbyears
        self.weight = [1.0] * self.nbyears
        self.weight_text = {}


def _apply_general(state: _State, key: str, value: str) -> None:
    if key == "nbyears":
        state.reset_years()
    elif key == "user-playlist":
        state.user_playlist = as_bool(value)
    elif key == "derated":
        state.derated = as_bool(value)


def _apply_playlist(
    state: _State, key: str, value: str, warnings: list[str], problems: list[str]
) -> None:
    state.has_playlist_lines = True
    line = f"[playlist] '{key} = {value}'"
    last = state.nbyears - 1
    if key == "playlist_reset":
        state.active = [as_bool(value)] * state.nbyears
    elif key in (_PLUS, _MINUS):
        year = as_uint(value)
        if year is None:
            warnings.append(f"{line} is not a year number; the solver ignores it")
        elif year >= state.nbyears:
            warnings.append(
                f"{line} names year {year} but nbyears = {state.nbyears} (years 0..{last}); "
                "the solver ignores it"
            )
        else:
            state.active[year] = key == _PLUS
    elif key == _WEIGHT:
        parsed = _parse_weight(value)
        if parsed is None:
            warnings.append(f"{line} is not 'year,weight'; the solver ignores it")
            return
        year, weight, text = parsed
        if weight < 0:
            problems.append(f"{line}: negative weight {text} for year {year}")
        elif year >= state.nbyears:
            warnings.append(
                f"{line} names year {year} but nbyears = {state.nbyears} (years 0..{last}); "
                "the solver ignores it"
            )
        else:
            state.weight[year] = weight
            state.weight_text[year] = text


def evaluate_playlist(generaldata: IniDocument, nbyears: int) -> Playlist:
    """Replay `generaldata` like the solver; `nbyears` is its validated `[general] nbyears`.

    Passing nbyears (instead of re-reading it) is exact: every `nbyears` line resets the
    playlist, so only lines after the last one count, and they all see this value.
    """
    if nbyears < 1:
        raise ValueError(f"nbyears must be >= 1, got {nbyears}")
    state = _State.fresh(nbyears)
    warnings: list[str] = []
    problems: list[str] = []
    for section, raw_key, value in generaldata.entries():
        key = raw_key.lower()
        if not key or not "a" <= key[0] <= "z":
            continue
        name = section.lower()
        if name == "general":
            _apply_general(state, key, value)
        elif name == "playlist":
            _apply_playlist(state, key, value, warnings, problems)
    return _result(state, warnings, problems)


def _result(state: _State, warnings: list[str], problems: list[str]) -> Playlist:
    if state.derated:
        if state.user_playlist:
            problems.append(
                "derated = true with user-playlist = true: the 8.8 solver stops on it (its "
                "load warning 'The user's playlist will be ignored'); set user-playlist = false"
            )
        if state.nbyears > 1:
            warnings.append(
                f"derated = true: the solver runs a single year, not nbyears = {state.nbyears}"
            )
        return Playlist([0], {0: 1.0}, warnings, problems, {})
    if not state.user_playlist:
        if state.has_playlist_lines:
            warnings.append(
                "user-playlist = false: the [playlist] section is ignored, all years run"
            )
        years = list(range(state.nbyears))
        return Playlist(years, dict.fromkeys(years, 1.0), warnings, problems, {})
    years = list(itertools.compress(range(state.nbyears), state.active))  # C speed: every
    # upload of a task output replays its run's playlist over the study's nbyears
    if not years:
        problems.append("the user playlist selects no MC year (the solver refuses to run)")
    weights = {year: state.weight[year] for year in years}
    texts = {year: state.weight_text[year] for year in years if year in state.weight_text}
    return Playlist(years, weights, warnings, problems, texts)


def active_years(
    generaldata: IniDocument, nbyears: int
) -> tuple[list[int], dict[int, float], list[str]]:
    """Active years (0-based, ascending), their weights and warnings, as the solver sees them.

    Raises StudyError when the playlist is unusable (negative weight, no year at all).
    """
    playlist = evaluate_playlist(generaldata, nbyears)
    if playlist.problems:
        raise StudyError(playlist.problems)
    return playlist.years, playlist.weights, playlist.warnings


def generaldata_nbyears(generaldata: IniDocument) -> int:
    """`[general] nbyears` (last occurrence), or StudyError saying what is wrong with it."""
    raw = generaldata.get("general", "nbyears")
    if raw is None:
        raise StudyError("settings/generaldata.ini: [general] nbyears is missing")
    value = as_uint(raw)
    if value is None:
        raise StudyError(f"settings/generaldata.ini: [general] nbyears = {raw!r} is not an integer")
    if value < 1:
        raise StudyError(f"settings/generaldata.ini: [general] nbyears = {value} must be >= 1")
    if value > MAX_MC_YEARS:
        raise StudyError(
            f"settings/generaldata.ini: [general] nbyears = {value} exceeds the solver's "
            f"maximum of {MAX_MC_YEARS}"
        )
    return value


def _playlist_items(years: list[int], source: Playlist) -> list[tuple[str, str]]:
    items = [("playlist_reset", "false")]
    items += [(_PLUS, str(year)) for year in years]
    items += [
        (_WEIGHT, f"{year},{source.weight_text[year]}")
        for year in years
        if source.weights[year] != 1.0 and year in source.weight_text
    ]
    return items


def task_generaldata(generaldata: IniDocument, years: Iterable[int]) -> IniDocument:
    """The `generaldata.ini` of a task that plays `years` (a subset of the active years).

    Only `[general] user-playlist` and the `[playlist]` section change; nbyears, seeds and
    everything else stay byte-identical, so each year draws the same random numbers as in a
    full run. The [playlist] section is rewritten where it is; if it sits before a
    `nbyears` line (which would reset it), it is moved to the end of the file instead.
    """
    nbyears = generaldata_nbyears(generaldata)
    source = evaluate_playlist(generaldata, nbyears)
    if source.problems:
        raise StudyError(source.problems)
    wanted = sorted(set(years))
    if not wanted:
        raise StudyError("a task needs at least one MC year")
    inactive = [year for year in wanted if year not in source.weights]
    if inactive:
        raise StudyError(
            f"MC years {inactive} are not active in this study (active: {source.years})"
        )
    if as_bool(generaldata.get("general", "derated")) and wanted == [0]:
        # the solver plays year 0 alone anyway, and stops when a derated study has a user
        # playlist: the task plays the study as it is
        return generaldata.copy()
    items = _playlist_items(wanted, source)
    for move_to_end in (False, True):
        task = generaldata.copy()
        task.set("general", "user-playlist", "true")
        if move_to_end:
            task.remove_section("playlist")
        task.replace_section("playlist", items)
        result = evaluate_playlist(task, nbyears)
        expected = {year: source.weights[year] for year in wanted}
        if result.years == wanted and result.weights == expected:
            return task
    raise StudyError(
        f"cannot write a playlist that makes the solver run exactly years {wanted} "
        f"(derated = true runs year 0 only)"
    )


def write_task_playlist(study_dir: Path, years: Iterable[int]) -> None:
    """Rewrite STUDY/settings/generaldata.ini in place so the solver plays only `years`."""
    path = Path(study_dir) / GENERALDATA
    task_generaldata(IniDocument.read(path), years).write(path)

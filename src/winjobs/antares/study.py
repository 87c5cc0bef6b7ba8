"""Open a study folder, validate it, and expose the facts the scheduler needs.

Validation collects EVERY problem before raising, so a user fixes a study in one go
instead of discovering its defects one submission at a time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from winjobs.antares.ini import IniDocument, as_bool
from winjobs.antares.network import flow_quad_blocker
from winjobs.antares.playlist import GENERALDATA, evaluate_playlist, generaldata_nbyears
from winjobs.errors import IniError, StudyError

__all__ = ["STUDY_FILE", "SUPPORTED_MAJORS", "Study", "open_study", "parse_version"]

STUDY_FILE = "study.antares"
#: Antares major versions whose studies winjobs knows how to split and merge.
SUPPORTED_MAJORS = (8, 9)

#: `[general] mode` values the 8.8 solver accepts (lower-cased) -> winjobs' mode name.
#: Expansion runs like economy, second optimisation skipped, in `<stamp>exp` run folders
#: whose results sit in `economy/`; each year stays independent, so it splits alike.
_MODES = {
    "economy": "economy",
    "economic": "economy",
    "adequacy": "adequacy",
    "expansion": "expansion",
}


@dataclass(frozen=True)
class Study:
    """A validated study: what the driver, the worker and `winjobs inspect` rely on.

    `years` are the active MC years (0-based, ascending) and `weights` their weights, as
    the solver computes them from `generaldata.ini`. `nbyears` is the value written in the
    file (with `derated = true` the solver nevertheless runs year 0 only; see warnings).
    """

    path: Path
    name: str
    version: str  # "8.8", "9.2"
    mode: str  # "economy" | "adequacy"
    nbyears: int
    years: tuple[int, ...]
    weights: Mapping[int, float]
    year_by_year: bool
    synthesis: bool
    splittable: bool
    warnings: tuple[str, ...]
    hot_start: bool = False
    derated: bool = False
    version_info: tuple[int, int] = field(default=(0, 0))
    #: Why the study must run in one piece (derated, FLOW QUAD. on a loop); None if it splits.
    split_blocker: str | None = None
    #: `[output] result-format = zip`: the solver writes `output/<run>.zip`.
    zip_output: bool = False

    @property
    def mode_folder(self) -> str:
        """The run folder's results folder: `adequacy`, else `economy` (expansion too)."""
        return "adequacy" if self.mode == "adequacy" else "economy"


def parse_version(raw: str) -> tuple[int, int] | None:
    """`880` -> (8, 8) (8.x writes three digits), `9.2` -> (9, 2); None if neither."""
    text = raw.strip()
    if re.fullmatch(r"[1-9][0-9]{2}", text):
        number = int(text)
        return number // 100, (number // 10) % 10
    match = re.fullmatch(r"([0-9]+)\.([0-9]+)", text)
    if match:
        return int(match.group(1)), int(match.group(2))
    return None


def _read_ini(path: Path, label: str, problems: list[str]) -> IniDocument | None:
    try:
        return IniDocument.read(path)
    except IniError as exc:
        problems.append(f"{label}: {exc}")
        return None


def _version(study_file: IniDocument, problems: list[str]) -> tuple[int, int] | None:
    raw = study_file.get("antares", "version")
    if raw is None or not raw.strip():
        problems.append(f"{STUDY_FILE}: [antares] version is missing")
        return None
    version = parse_version(raw)
    if version is None:
        problems.append(f"{STUDY_FILE}: [antares] version = {raw!r} is not a version number")
        return None
    if version[0] not in SUPPORTED_MAJORS:
        problems.append(
            f"{STUDY_FILE}: Antares version {version[0]}.{version[1]} is not supported "
            f"(winjobs supports 8.x and 9.x studies; open and save it with Antares 8.8+)"
        )
        return None
    return version


def _mode(generaldata: IniDocument, problems: list[str], warnings: list[str]) -> str:
    raw = generaldata.get("general", "mode")
    if raw is None:
        warnings.append("[general] mode is missing: the solver runs it as economy")
        return "economy"
    mode = _MODES.get(raw.strip().lower())
    if mode is None:
        problems.append(
            f"settings/generaldata.ini: unknown [general] mode = {raw!r} "
            "(expected Economy, Adequacy or Expansion)"
        )
        return "unknown"
    return mode


def _check_adequacy_patch(generaldata: IniDocument, mode: str, problems: list[str]) -> None:
    """The 8.8 solver refuses an adequacy patch outside economy mode, before any year."""
    if mode in ("adequacy", "expansion") and as_bool(
        generaldata.get("adequacy patch", "include-adq-patch")
    ):
        problems.append(
            "settings/generaldata.ini: the adequacy patch (include-adq-patch = true) needs "
            f"mode = Economy, not {mode} (the solver refuses it: 'Adequacy Patch can only be "
            "used with Economy Simulation Mode')"
        )


def _check_folder(path: Path) -> None:
    if not path.exists():
        raise StudyError(f"{path} does not exist")
    if not path.is_dir():
        raise StudyError(f"{path} is not a folder (a study is a folder with study.antares)")


def _hot_start(generaldata: IniDocument, version: tuple[int, int] | None) -> bool:
    """Hydro hot start chains each year to the previous one (removed in Antares 9.2)."""
    level = generaldata.get("other preferences", "initial-reservoir-levels", "")
    return (version is None or version < (9, 2)) and (level or "").strip().lower() == "hot start"


def open_study(path: Path) -> Study:
    """Open and validate the study folder at `path`; StudyError lists every problem."""
    path = Path(path)
    _check_folder(path)
    problems: list[str] = []
    warnings: list[str] = []
    study_path, general_path = path / STUDY_FILE, path / GENERALDATA
    if not study_path.is_file():
        problems.append(f"no {STUDY_FILE} in {path} (not an Antares study folder?)")
    if not general_path.is_file():
        problems.append(f"no settings/generaldata.ini in {path}")
    study_file = _read_ini(study_path, STUDY_FILE, problems) if study_path.is_file() else None
    generaldata = (
        _read_ini(general_path, "settings/generaldata.ini", problems)
        if general_path.is_file()
        else None
    )
    version = _version(study_file, problems) if study_file is not None else None
    if generaldata is None:
        raise StudyError(problems)

    mode = _mode(generaldata, problems, warnings)
    _check_adequacy_patch(generaldata, mode, problems)
    nbyears: int | None = None
    try:
        nbyears = generaldata_nbyears(generaldata)
    except StudyError as exc:
        problems.extend(exc.problems)
    playlist = evaluate_playlist(generaldata, nbyears) if nbyears is not None else None
    if playlist is not None:
        problems.extend(playlist.problems)
        warnings.extend(playlist.warnings)
    if problems or version is None or nbyears is None or playlist is None:
        raise StudyError(problems)

    hot_start = _hot_start(generaldata, version)
    if hot_start:
        warnings.append(
            "hydro 'hot start' (initial-reservoir-levels): each MC year starts from the "
            "previous year's final reservoir levels, so a run split over several machines "
            "will NOT reproduce a single run"
        )
    derated = as_bool(generaldata.get("general", "derated"))
    blocker = (
        "derated = true: the solver runs year 0 only"
        if derated
        else flow_quad_blocker(path, generaldata, version)
    )
    if blocker is not None and not derated:
        warnings.append(blocker)
    caption = study_file.get("antares", "caption") if study_file is not None else None
    return Study(
        path=path,
        name=caption.strip() if caption and caption.strip() else path.resolve().name,
        version=f"{version[0]}.{version[1]}",
        mode=mode,
        nbyears=nbyears,
        years=tuple(playlist.years),
        weights=MappingProxyType(dict(playlist.weights)),
        year_by_year=as_bool(generaldata.get("general", "year-by-year")),
        synthesis=as_bool(generaldata.get("output", "synthesis", "true")),
        splittable=blocker is None,
        warnings=tuple(warnings),
        hot_start=hot_start,
        derated=derated,
        version_info=version,
        split_blocker=blocker,
        zip_output=(generaldata.get("output", "result-format") or "").strip().lower() == "zip",
    )

"""What a run needs to know about its study, read the way the solver reads it.

Years, weights, mode, year-by-year and synthesis come from `winjobs.antares.study` (the
same rules the scheduler uses, so the stand-in and the driver can never disagree on
which years a playlist plays); the study's objects come from `inputs`, the printed
variables from `catalogue`, the calendar from `settings/generaldata.ini`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from winjobs.antares.ini import IniDocument, as_bool
from winjobs.antares.playlist import GENERALDATA, evaluate_playlist
from winjobs.antares.study import STUDY_FILE, Study, open_study
from winjobs.errors import IniError, StudyError
from winjobs.standin.calendar import calendar_from_generaldata
from winjobs.standin.catalogue import Lists, Selection, printed_lists, selection
from winjobs.standin.inputs import read_areas, read_constraints, read_districts, read_links
from winjobs.standin.options import SolverOptions
from winjobs.standin.system import System
from winjobs.standin.version import PosedVersion


@dataclass(frozen=True)
class RunSettings:
    """A study as one run of the stand-in sees it, command-line overrides applied."""

    study: Study
    generaldata: IniDocument
    study_file: IniDocument
    caption: str
    mode: str  # "economy" | "adequacy" | "expansion" (economy's layout, `exp` runs)
    nbyears: int
    years: tuple[int, ...]
    weights: dict[int, float]
    year_by_year: bool
    synthesis: bool
    system: System
    selection: Selection

    @property
    def path(self) -> Path:
        return self.study.path

    @property
    def user_playlist(self) -> bool:
        return as_bool(self.generaldata.get("general", "user-playlist"))

    @property
    def mode_folder(self) -> str:
        """The folder of the results: `adequacy`, else `economy` (expansion too)."""
        return "adequacy" if self.mode == "adequacy" else "economy"

    @property
    def zipped_result(self) -> bool:
        """`[output] result-format = zip`: the run becomes `<run>.zip`, like with `-z`."""
        return (self.generaldata.get("output", "result-format") or "").strip().lower() == "zip"

    @property
    def lists(self) -> Lists:
        """The variables this run prints, per object kind."""
        return printed_lists(self.mode_folder, self.selection)


def input_digest(study_dir: Path) -> bytes:
    """SHA-256 over every file under input/ (relative path and bytes, sorted by path).

    The seed of every synthetic number: two copies of a study — the driver's and each
    worker's — give the same results; any change to the input changes them.
    """
    root = study_dir / "input"
    hasher = hashlib.sha256()
    if root.is_dir():
        files = sorted(
            (p for p in root.rglob("*") if p.is_file()),
            key=lambda p: p.relative_to(root).as_posix(),
        )
        for path in files:
            relative = path.relative_to(root).as_posix().encode("utf-8", "surrogateescape")
            data = path.read_bytes()
            hasher.update(len(relative).to_bytes(8, "little") + relative)
            hasher.update(len(data).to_bytes(8, "little") + data)
    return hasher.digest()


def read_system(study_dir: Path, generaldata: IniDocument, mode: str) -> System:
    """Every object of the study that shapes the output (see `inputs`)."""
    modelling = generaldata.get("other preferences", "renewable-generation-modelling") or ""
    trimming = as_bool(generaldata.get("general", "geographic-trimming"))
    areas = read_areas(
        study_dir,
        renewable_clusters=modelling.strip().lower() == "clusters",
        trimming=trimming,
        adequacy=mode == "adequacy",
    )
    links = read_links(study_dir, areas, trimming=trimming)
    constraints, groups = read_constraints(study_dir, generaldata, areas, links)
    return System(
        areas=areas,
        links=links,
        calendar=calendar_from_generaldata(generaldata),
        districts=read_districts(study_dir, areas),
        digest=input_digest(study_dir),
        mode=mode,
        constraints=constraints,
        constraint_groups=groups,
    )


def load_run_settings(options: SolverOptions) -> RunSettings:
    """Open the study named on the command line and apply -y, --economy/--adequacy and
    --year-by-year on top of its settings. Raises StudyError/IniError with the reason."""
    if options.study is None:
        raise StudyError("no study folder given: use -i STUDY or give it as the last argument")
    study = open_study(options.study)
    try:
        generaldata = IniDocument.read(study.path / GENERALDATA)
        study_file = IniDocument.read(study.path / STUDY_FILE)
    except IniError as exc:
        raise StudyError(str(exc)) from exc
    nbyears, years, weights = study.nbyears, study.years, dict(study.weights)
    if options.nbyears is not None:
        playlist = evaluate_playlist(generaldata, options.nbyears)
        if playlist.problems:
            raise StudyError(playlist.problems)
        nbyears, years, weights = options.nbyears, tuple(playlist.years), playlist.weights
    if study.derated:  # the solver plays year 0 only in derated mode
        years, weights = (0,), {0: weights.get(0, 1.0)}
    mode = options.mode or study.mode
    system = read_system(study.path, generaldata, mode)
    return RunSettings(
        study=study,
        generaldata=generaldata,
        study_file=study_file,
        caption=study.name,
        mode=mode,
        nbyears=nbyears,
        years=tuple(years),
        weights=weights,
        year_by_year=study.year_by_year or options.year_by_year,
        synthesis=study.synthesis,
        system=system,
        selection=selection(generaldata),
    )


def refused_by_solver(settings: RunSettings, version: PosedVersion) -> str | None:
    """Why the real solver of `version` would refuse to open this study (None: it opens
    it): a study newer than the solver. No run folder is written then."""
    posed = (version.major, version.minor)
    if settings.study.version_info > posed:
        return (
            f"Invalid version for the study: found `{settings.study.version}`, "
            f"expected <= `{posed[0]}.{posed[1]}` (the solver is too old for this study)"
        )
    return None

"""What a run needs to know about its study, read the way the solver reads it.

Years, weights, mode, year-by-year and synthesis come from `winjobs.antares.study` (the
same rules the scheduler uses, so the stand-in and the driver can never disagree on
which years a playlist plays); areas, links, clusters, costs and the calendar are read
here from `input/` and `settings/generaldata.ini`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from winjobs.antares.ini import IniDocument, as_bool, as_uint
from winjobs.antares.playlist import GENERALDATA, evaluate_playlist
from winjobs.antares.study import STUDY_FILE, Study, open_study
from winjobs.errors import IniError, StudyError
from winjobs.standin.calendar import calendar_from_generaldata
from winjobs.standin.data import Area, Cluster, District, Link, System
from winjobs.standin.options import SolverOptions
from winjobs.standin.version import PosedVersion

_NOT_IN_ID = re.compile(r"[^a-z0-9 _\-(),&]")


def area_id(name: str) -> str:
    """An area's folder name from its display name, as Antares derives ids (lower-case,
    odd characters dropped)."""
    return _NOT_IN_ID.sub(" ", name.lower()).strip()


@dataclass(frozen=True)
class RunSettings:
    """A study as one run of the stand-in sees it, command-line overrides applied."""

    study: Study
    generaldata: IniDocument
    study_file: IniDocument
    caption: str
    mode: str  # "economy" | "adequacy"
    nbyears: int
    years: tuple[int, ...]
    weights: dict[int, float]
    year_by_year: bool
    synthesis: bool
    system: System

    @property
    def path(self) -> Path:
        return self.study.path

    @property
    def user_playlist(self) -> bool:
        return as_bool(self.generaldata.get("general", "user-playlist"))


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


def _read_optional(path: Path) -> IniDocument | None:
    return IniDocument.read(path) if path.is_file() else None


def _number(text: str | None, default: float) -> float:
    try:
        return float(text) if text is not None and text.strip() else default
    except ValueError:
        return default


def _clusters(study_dir: Path, area: str) -> tuple[Cluster, ...]:
    listing = _read_optional(study_dir / "input" / "thermal" / "clusters" / area / "list.ini")
    if listing is None:
        return ()
    clusters = []
    for section in listing.sections():
        if not as_bool(listing.get(section, "enabled", "true")):
            continue
        name = (listing.get(section, "name") or section).strip()
        count = as_uint(listing.get(section, "unitcount")) or 1
        capacity = _number(listing.get(section, "nominalcapacity"), 0.0)
        clusters.append(Cluster(name, count, capacity))
    return tuple(sorted(clusters, key=lambda c: c.name.lower()))


def read_areas(study_dir: Path) -> tuple[Area, ...]:
    """Areas of input/areas/list.txt with their clusters and unsupplied/spilled costs."""
    listing = study_dir / "input" / "areas" / "list.txt"
    if not listing.is_file():
        raise StudyError(f"{listing} is missing: the study has no area list")
    names = [line.strip() for line in listing.read_text("utf-8", "replace").splitlines()]
    costs = _read_optional(study_dir / "input" / "thermal" / "areas.ini")
    hydro = _read_optional(study_dir / "input" / "hydro" / "hydro.ini")
    areas = []
    for name in dict.fromkeys(n for n in names if n):
        ident = area_id(name)
        unsupplied = costs.get("unserverdenergycost", ident) if costs else None
        spilled = costs.get("spilledenergycost", ident) if costs else None
        areas.append(
            Area(
                name=name,
                id=ident,
                unsupplied_cost=_number(unsupplied, 3000.0),
                spilled_cost=_number(spilled, 0.0),
                clusters=_clusters(study_dir, ident),
                reservoir=hydro is not None and as_bool(hydro.get("reservoir", ident)),
            )
        )
    if not areas:
        raise StudyError(f"{listing} lists no area")
    return tuple(sorted(areas, key=lambda a: a.id))


def read_links(study_dir: Path, areas: tuple[Area, ...]) -> tuple[Link, ...]:
    """Links of input/links/<origin>/properties.ini (one section per extremity)."""
    by_id = {area.id: area for area in areas}
    links = []
    for origin in areas:
        properties = _read_optional(study_dir / "input" / "links" / origin.id / "properties.ini")
        if properties is None:
            continue
        for section in properties.sections():
            extremity = by_id.get(section.strip().lower())
            if extremity is not None and extremity.id != origin.id:
                links.append(Link(origin, extremity))
    return tuple(sorted(links, key=lambda link: (link.origin.id, link.extremity.id)))


def read_districts(study_dir: Path, areas: tuple[Area, ...]) -> tuple[District, ...]:
    """Sets of areas with output (input/areas/sets.ini), members applied in file order:
    `apply-filter = add-all|remove-all`, then `+ = area` / `- = area`; unknown areas
    are ignored and an empty set is not written, like the solver."""
    sets = _read_optional(study_dir / "input" / "areas" / "sets.ini")
    if sets is None:
        return ()
    known = [area.id for area in areas]
    districts = []
    for section in sets.sections():
        if not as_bool(sets.get(section, "output", "true")):
            continue
        members: list[str] = []
        for key, value in sets.items(section):
            name, item = key.strip().lower(), area_id(value)
            if name == "apply-filter":
                members = list(known) if value.strip().lower() == "add-all" else []
            elif name == "+" and item in known and item not in members:
                members.append(item)
            elif name == "-" and item in members:
                members.remove(item)
        if members:
            caption = (sets.get(section, "caption") or section).strip()
            ordered = tuple(a for a in known if a in members)
            districts.append(District(caption, section.strip().lower(), ordered))
    return tuple(sorted(districts, key=lambda d: d.id))


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
    areas = read_areas(study.path)
    system = System(
        areas=areas,
        links=read_links(study.path, areas),
        calendar=calendar_from_generaldata(generaldata),
        districts=read_districts(study.path, areas),
        digest=input_digest(study.path),
        mode=mode,
    )
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
    )


def refused_by_solver(
    settings: RunSettings, version: PosedVersion, given: Sequence[str]
) -> str | None:
    """Why the real solver of `version` would refuse this study (None: it runs it):
    a study newer than the solver, or MILP unit commitment without OR-Tools (`given`
    lists the long names of the options on the command line)."""
    posed = (version.major, version.minor)
    if settings.study.version_info > posed:
        return (
            f"Invalid version for the study: found `{settings.study.version}`, "
            f"expected <= `{posed[0]}.{posed[1]}` (the solver is too old for this study)"
        )
    mode = settings.generaldata.get("other preferences", "unit-commitment-mode", "") or ""
    ortools = {"use-ortools", "solver", "ortools-solver"} & set(given)
    if mode.strip().lower() == "milp" and not ortools:
        return "Unit Commitment mode 'milp' must be used with an OR-Tools solver "
    return None

"""Read a study's objects from `input/` the way the 8.8 solver reads them.

Only what shapes a run's output: areas and their thermal clusters, renewable clusters and
short-term storages; links; districts; binding constraints; the geographic filters. Rules
kept from the solver's loaders:

- cluster names are their `list.ini` section names (the `name` key is ignored), ids the
  lower-cased names; disabled clusters are dropped; must-run thermal clusters (all of
  them in adequacy) keep their details columns but weigh nothing in a binding constraint;
- a filter key (`filter-synthesis`, `filter-year-by-year`) that is absent means every
  period, and `key = ` with a blank value means none; without `geographic-trimming`
  every area and link writes every period;
- a binding constraint prints only when enabled, with at least one weight on an existing
  link or cluster, and an inequality (`both` becomes `<name>_inf (<)` and `_sup (>)`);
  its filter defaults to no period at all.
"""

from __future__ import annotations

import re
from pathlib import Path

from winjobs.antares.ini import IniDocument, as_bool, as_uint
from winjobs.errors import StudyError
from winjobs.standin.catalogue import RENEWABLE_GROUPS, STORAGE_GROUPS, THERMAL_GROUPS
from winjobs.standin.system import (
    ALL_PERIODS,
    Area,
    Cluster,
    Constraint,
    District,
    Link,
    Periods,
    Renewable,
    Storage,
)

_NOT_IN_ID = re.compile(r"[^a-z0-9 _\-(),&]")
_THERMAL_GROUP = dict(zip(
    ("nuclear", "lignite", "hard coal", "gas", "oil", "mixed fuel", "other 1", "other 2",
     "other 3", "other 4"), THERMAL_GROUPS, strict=True,
)) | {"other": "MISC. DTG"}  # fmt: skip
_RENEWABLE_GROUP = dict(zip(
    ("wind offshore", "wind onshore", "solar thermal", "solar pv", "solar rooftop",
     "other res 1", "other res 2", "other res 3", "other res 4"), RENEWABLE_GROUPS, strict=True,
))  # fmt: skip
_STORAGE_GROUP = {group.lower(): group for group in STORAGE_GROUPS}
_PERIOD_WORDS = re.compile(r"[,; \r\n\t]+")


def area_id(name: str) -> str:
    """An object's id from its display name, as Antares derives ids (lower-case, odd
    characters dropped)."""
    return _NOT_IN_ID.sub(" ", name.lower()).strip()


def read_optional(path: Path) -> IniDocument | None:
    return IniDocument.read(path) if path.is_file() else None


def number(text: str | None, default: float) -> float:
    try:
        return float(text) if text is not None and text.strip() else default
    except ValueError:
        return default


def periods(text: str | None) -> Periods:
    """A filter value: absent -> every period; otherwise the periods it names."""
    if text is None:
        return ALL_PERIODS
    words = {w.lower() for w in _PERIOD_WORDS.split(text) if w}
    return frozenset(words & ALL_PERIODS)


_GENERATION = {"force generation": "force", "force no generation": "never"}


class _Section:
    """One enabled cluster of a `list.ini`: its section name, its keys, its group lower-cased."""

    def __init__(self, listing: IniDocument, name: str) -> None:
        self.name = name
        self._listing = listing
        self.group = (self.get("group") or "").strip().lower()

    def get(self, key: str) -> str | None:
        return self._listing.get(self.name, key)

    def number(self, key: str) -> float:
        return number(self.get(key), 0.0)


def _enabled_clusters(study_dir: Path, kind: str, area: str) -> list[_Section]:
    """The enabled sections of `input/<kind>/clusters/<area>/list.ini` (thermal clusters,
    renewables and short-term storages are listed alike; a missing file lists none)."""
    listing = read_optional(study_dir / "input" / kind / "clusters" / area / "list.ini")
    if listing is None:
        return []
    return [
        _Section(listing, name)
        for name in listing.sections()
        if as_bool(listing.get(name, "enabled", "true"))
    ]


def _thermal(study_dir: Path, area: str, *, adequacy: bool) -> tuple[Cluster, ...]:
    """The enabled thermal clusters of an area (every one is must-run in adequacy)."""
    clusters = [
        Cluster(
            name=section.name,
            unit_count=as_uint(section.get("unitcount")) or 1,
            nominal_capacity=section.number("nominalcapacity"),
            group=_THERMAL_GROUP.get(section.group, "MISC. DTG"),
            id=area_id(section.name),
            generation=_GENERATION.get((section.get("gen-ts") or "").strip().lower(), "global"),
            must_run=adequacy or as_bool(section.get("must-run")),
        )
        for section in _enabled_clusters(study_dir, "thermal", area)
    ]
    return tuple(sorted(clusters, key=lambda c: c.ident))


def _renewables(study_dir: Path, area: str) -> tuple[Renewable, ...]:
    found = [
        Renewable(
            section.name,
            area_id(section.name),
            _RENEWABLE_GROUP.get(section.group, "RENW. 1"),
            (as_uint(section.get("unitcount")) or 1) * section.number("nominalcapacity"),
        )
        for section in _enabled_clusters(study_dir, "renewables", area)
    ]
    return tuple(sorted(found, key=lambda r: r.id))


def _storages(study_dir: Path, area: str) -> tuple[Storage, ...]:
    found = [
        Storage(
            name=(section.get("name") or section.name).strip(),
            id=area_id(section.name),
            group=_STORAGE_GROUP.get(section.group, "Other1"),
            injection=section.number("injectionnominalcapacity"),
            withdrawal=section.number("withdrawalnominalcapacity"),
            reservoir=section.number("reservoircapacity"),
        )
        for section in _enabled_clusters(study_dir, "st-storage", area)
    ]
    return tuple(sorted(found, key=lambda s: s.name))


def _filters(document: IniDocument | None, section: str, trimming: bool) -> tuple[Periods, Periods]:
    if not trimming or document is None:
        return ALL_PERIODS, ALL_PERIODS
    return (
        periods(document.get(section, "filter-synthesis")),
        periods(document.get(section, "filter-year-by-year")),
    )


def read_areas(
    study_dir: Path, *, renewable_clusters: bool, trimming: bool, adequacy: bool
) -> tuple[Area, ...]:
    """Areas of input/areas/list.txt with their clusters, storages, costs and filters."""
    listing = study_dir / "input" / "areas" / "list.txt"
    if not listing.is_file():
        raise StudyError(f"{listing} is missing: the study has no area list")
    names = [line.strip() for line in listing.read_text("utf-8", "replace").splitlines()]
    costs = read_optional(study_dir / "input" / "thermal" / "areas.ini")
    hydro = read_optional(study_dir / "input" / "hydro" / "hydro.ini")
    areas = []
    for name in dict.fromkeys(n for n in names if n):
        ident = area_id(name)
        unsupplied = costs.get("unserverdenergycost", ident) if costs else None
        spilled = costs.get("spilledenergycost", ident) if costs else None
        optimization = read_optional(study_dir / "input" / "areas" / ident / "optimization.ini")
        synthesis, year_by_year = _filters(optimization, "filtering", trimming)
        areas.append(
            Area(
                name=name,
                id=ident,
                unsupplied_cost=number(unsupplied, 3000.0),
                spilled_cost=number(spilled, 0.0),
                clusters=_thermal(study_dir, ident, adequacy=adequacy),
                reservoir=hydro is not None and as_bool(hydro.get("reservoir", ident)),
                renewables=_renewables(study_dir, ident) if renewable_clusters else (),
                storages=_storages(study_dir, ident),
                synthesis=synthesis,
                year_by_year=year_by_year,
            )
        )
    if not areas:
        raise StudyError(f"{listing} lists no area")
    return tuple(sorted(areas, key=lambda a: a.id))


def _has_impedance(folder: Path, extremity: str) -> bool:
    """Non-zero impedances (column 3 of `<extremity>_parameters.txt`, 8.2+; column 5 of
    `<extremity>.txt` before)."""
    for name, column in ((f"{extremity}_parameters.txt", 2), (f"{extremity}.txt", 4)):
        path = folder / name
        if path.is_file():
            for line in path.read_text("utf-8", "replace").splitlines():
                cells = line.split("\t")
                if len(cells) > column and number(cells[column], 0.0) != 0.0:
                    return True
            return False
    return False


def read_links(study_dir: Path, areas: tuple[Area, ...], *, trimming: bool) -> tuple[Link, ...]:
    """Links of input/links/<origin>/properties.ini (one section per extremity)."""
    by_id = {area.id: area for area in areas}
    links = []
    for origin in areas:
        folder = study_dir / "input" / "links" / origin.id
        properties = read_optional(folder / "properties.ini")
        for section in properties.sections() if properties else []:
            extremity = by_id.get(section.strip().lower())
            if extremity is None or extremity.id == origin.id:
                continue
            synthesis, year_by_year = _filters(properties, section, trimming)
            impedance = _has_impedance(folder, extremity.id)
            links.append(Link(origin, extremity, synthesis, year_by_year, impedance))
    return tuple(sorted(links, key=lambda link: (link.origin.id, link.extremity.id)))


def read_districts(study_dir: Path, areas: tuple[Area, ...]) -> tuple[District, ...]:
    """Sets of areas with output (input/areas/sets.ini), sorted by id; each set's rules
    applied in file order: `apply-filter = add-all|remove-all`, `+ = X` / `- = X` where X
    is an area or a set built before; an empty set is not written, like the solver."""
    sets = read_optional(study_dir / "input" / "areas" / "sets.ini")
    if sets is None:
        return ()
    known = [area.id for area in areas]
    built: dict[str, list[str]] = {}
    districts = []
    for section in sorted(sets.sections(), key=lambda s: s.strip().lower()):
        members: list[str] = []
        for key, value in sets.items(section):
            name, item = key.strip().lower(), value.strip().lower()
            if name == "apply-filter":
                members = (
                    list(known) if item == "add-all" else [] if item == "remove-all" else members
                )
            elif name in ("+", "-"):
                targets = [item] if item in known else built.get(item, [])
                for target in targets:
                    if name == "+" and target not in members:
                        members.append(target)
                    elif name == "-" and target in members:
                        members.remove(target)
        ident = section.strip().lower()
        built[ident] = members
        if members and as_bool(sets.get(section, "output", "true")):
            caption = (sets.get(section, "caption") or section).strip()
            districts.append(District(caption, ident, tuple(a for a in known if a in members)))
    return tuple(districts)


_OPERATORS = {"less": ("<",), "greater": (">",), "both": ("<", ">")}
_TYPES = ("hourly", "daily", "weekly")


def _weighted(document: IniDocument, section: str, areas: tuple[Area, ...],
              links: tuple[Link, ...]) -> bool:  # fmt: skip
    """Whether a constraint has a non-zero weight on a link (`a%b`) or a cluster (`a.c`)
    that exists (a must-run cluster does not count)."""
    link_keys = {(k.origin.id, k.extremity.id) for k in links}
    clusters = {(a.id, c.ident) for a in areas for c in a.clusters if not c.must_run}
    for key, value in document.items(section):
        weight = number(value.split("%")[0], 0.0)
        if weight == 0.0:
            continue
        key = key.strip().lower()
        if "%" in key[1:]:
            a, b = (part.strip() for part in key.split("%", 1))
            if (a, b) in link_keys or (b, a) in link_keys:
                return True
        elif "." in key[1:]:
            a, c = (part.strip() for part in key.split(".", 1))
            if (a, c) in clusters:
                return True
    return False


def read_constraints(
    study_dir: Path, generaldata: IniDocument, areas: tuple[Area, ...], links: tuple[Link, ...]
) -> tuple[tuple[Constraint, ...], tuple[str, ...]]:
    """The printed binding constraints, sorted by name then operator, and every group."""
    document = read_optional(study_dir / "input" / "bindingconstraints" / "bindingconstraints.ini")
    include = generaldata.get("optimization", "include-constraints", "true")
    if document is None or not as_bool(include):
        return (), ()
    daily_range = (generaldata.get("optimization", "simplex-range") or "").strip() == "day"
    found, groups = [], []
    for section in document.sections():
        if not document.items(section):
            continue
        group = (document.get(section, "group") or "default").strip()
        groups.append(group)
        name = (document.get(section, "name") or "").strip()
        kind = (document.get(section, "type") or "").strip().lower()
        operators = _OPERATORS.get((document.get(section, "operator") or "").strip().lower())
        enabled = as_bool(document.get(section, "enabled"))
        if not name or kind not in _TYPES or not operators or not enabled:
            continue
        if not _weighted(document, section, areas, links):
            continue
        kind = "daily" if kind == "weekly" and daily_range else kind
        shown = document.get(section, "filter-year-by-year")
        filters = periods(shown) if shown is not None else frozenset()
        for sign in operators:
            suffix = "" if len(operators) == 1 else ("_inf" if sign == "<" else "_sup")
            found.append(Constraint(name + suffix, sign, kind, filters, group))
    found.sort(key=lambda c: (c.name, c.operator != "<"))
    return tuple(found), tuple(dict.fromkeys(groups))

"""Copies of real studies with output settings toggled: the one way tests make variants.

Every edit goes through `winjobs.antares.ini.IniDocument` (byte-exact: only the edited
lines change), on a COPY (`copy_study`; the shared studies are read-only). What the
settings mean for the Antares 8.8 solver (read in its v8.8.10 source):

- `[general] geographic-trimming = true` turns the per-object output filters on; without
  it the solver resets every area and link filter to "all" (binding constraints keep
  theirs). Filters are lists of `hourly, daily, weekly, monthly, annual` (empty: none):
  `[filtering] filter-synthesis` / `filter-year-by-year` in `input/areas/<id>/
  optimization.ini`, the same keys in each `[<other end>]` section of `input/links/<a>/
  properties.ini`, and in each constraint of `input/bindingconstraints/
  bindingconstraints.ini`. Districts (`input/areas/sets.ini`) have no filter of their own,
  only `output = true|false`.
- `[general] thematic-trimming = true` with `[variables selection]`:
  `selected_vars_reset = true|false` (every variable on or off first), then
  `select_var + = NAME` / `select_var - = NAME` (captions such as `FLOW QUAD.`, `DTG by
  plant`), applied in file order.
- `[general] year-by-year`, `[output] synthesis`, `[output] storenewset`, `[output]
  result-format = txt-files|zip`, `[optimization] include-exportmps = none|optim-1|
  optim-2|both-optims` (older studies: true/false).

`Variant` names a set of such edits; `VARIANTS` is the catalogue the real-solver tiers
share, and `VariantCache` makes each (study, variant) copy once per session so that the
real runs of it are cached too (`tests.helpers.real_solver`).
"""

from __future__ import annotations

import random
import shutil
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from winjobs.antares.ini import IniDocument
from winjobs.antares.playlist import write_task_playlist

GENERALDATA = Path("settings") / "generaldata.ini"
PERIODS = ("hourly", "daily", "weekly", "monthly", "annual")
ALL_PERIODS = ", ".join(PERIODS)


def copy_study(source: Path, dest: Path) -> Path:
    """A writable copy of a (read-only) study, without its `output/` and `logs/`."""
    shutil.copytree(source, dest, ignore=_top_level(source, {"output", "logs"}))
    for path in [dest, *dest.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return dest


def _top_level(root: Path, names: set[str]) -> Callable[[str, list[str]], set[str]]:
    top = Path(root).resolve()

    def ignore(folder: str, entries: list[str]) -> set[str]:
        return names & set(entries) if Path(folder).resolve() == top else set()

    return ignore


def _edit(path: Path, change: Callable[[IniDocument], None]) -> None:
    document = IniDocument.read(path)
    change(document)
    document.write(path)


def set_settings(study: Path, section: str, settings: Mapping[str, str]) -> None:
    """Set keys of one section of the study's generaldata.ini."""

    def change(document: IniDocument) -> None:
        for key, value in settings.items():
            document.set(section, key, value)

    _edit(study / GENERALDATA, change)


def set_playlist(study: Path, years: Iterable[int]) -> None:
    """Play only `years` (0-based), as a task's copy does (`write_task_playlist`)."""
    write_task_playlist(study, years)


# -- geographic trimming ----------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """Granularities kept, as the solver writes them (`hourly, daily`; empty: none)."""

    synthesis: str = ALL_PERIODS
    year_by_year: str = ALL_PERIODS


def area_ids(study: Path) -> list[str]:
    """Area ids (folder names under input/areas/), sorted."""
    areas = study / "input" / "areas"
    return sorted(p.name for p in areas.iterdir() if (p / "optimization.ini").is_file())


def link_ids(study: Path) -> list[tuple[str, str]]:
    """Links as (from, to) pairs, from each `input/links/<from>/properties.ini`."""
    links: list[tuple[str, str]] = []
    root = study / "input" / "links"
    for properties in sorted(root.glob("*/properties.ini")) if root.is_dir() else []:
        for other in IniDocument.read(properties).sections():
            links.append((properties.parent.name, other))
    return links


def set_area_filter(study: Path, area: str, chosen: Filter) -> None:
    def change(document: IniDocument) -> None:
        document.set("filtering", "filter-synthesis", chosen.synthesis)
        document.set("filtering", "filter-year-by-year", chosen.year_by_year)

    _edit(study / "input" / "areas" / area / "optimization.ini", change)


def set_link_filter(study: Path, link: tuple[str, str], chosen: Filter) -> None:
    def change(document: IniDocument) -> None:
        document.set(link[1], "filter-synthesis", chosen.synthesis)
        document.set(link[1], "filter-year-by-year", chosen.year_by_year)

    _edit(study / "input" / "links" / link[0] / "properties.ini", change)


def constraint_sections(study: Path) -> list[str]:
    path = study / "input" / "bindingconstraints" / "bindingconstraints.ini"
    return IniDocument.read(path).sections() if path.is_file() else []


def set_constraint_filter(study: Path, section: str, chosen: Filter) -> None:
    def change(document: IniDocument) -> None:
        document.set(section, "filter-synthesis", chosen.synthesis)
        document.set(section, "filter-year-by-year", chosen.year_by_year)

    _edit(study / "input" / "bindingconstraints" / "bindingconstraints.ini", change)


def geographic_trimming(
    study: Path,
    *,
    areas: Filter | Mapping[str, Filter] | None = None,
    links: Filter | Mapping[tuple[str, str], Filter] | None = None,
) -> None:
    """`geographic-trimming = true`, and the given filters: one Filter for every area
    (link), or a mapping for some of them (the others keep theirs)."""
    set_settings(study, "general", {"geographic-trimming": "true"})
    if areas is not None:
        chosen = areas if isinstance(areas, Mapping) else dict.fromkeys(area_ids(study), areas)
        for area, value in chosen.items():
            set_area_filter(study, area, value)
    if links is not None:
        picked = links if isinstance(links, Mapping) else dict.fromkeys(link_ids(study), links)
        for link, value in picked.items():
            set_link_filter(study, link, value)


def random_periods(rng: random.Random) -> str:
    """A random subset of the granularities, none and all included."""
    return ", ".join(p for p in PERIODS if rng.random() < 0.5)


def random_filters(study: Path, seed: str) -> None:
    """Geographic trimming with a random filter (seeded) for every area and link,
    synthesis and year-by-year apart, empty sets included."""
    rng = random.Random(seed)
    geographic_trimming(
        study,
        areas={a: Filter(random_periods(rng), random_periods(rng)) for a in area_ids(study)},
        links={k: Filter(random_periods(rng), random_periods(rng)) for k in link_ids(study)},
    )


def set_impedances(study: Path, value: float = 0.5) -> None:
    """Give every link a non-zero impedance (3rd column of `<from>/<to>_parameters.txt`,
    8760 rows; a missing or empty file gets zeros elsewhere): the solver then runs its
    quadratic optimisation of FLOW QUAD. on the averages after the last year."""
    for origin, other in link_ids(study):
        path = study / "input" / "links" / origin / f"{other}_parameters.txt"
        rows = path.read_text().splitlines() if path.is_file() else []
        if len(rows) < 8760:
            rows = ["0\t0\t0\t0\t0\t0"] * 8760
        fields = [row.split("\t") for row in rows]
        path.write_text("".join("\t".join([*f[:2], f"{value:g}", *f[3:]]) + "\n" for f in fields))


def add_link(study: Path, a: str, b: str, capacity: float, impedance: float = 0.0) -> None:
    """A new link a - b (8.2+ layout, stored under the lower id) with a constant capacity
    both ways and impedance."""
    low, high = sorted((a, b))
    folder = study / "input" / "links" / low
    (folder / "capacities").mkdir(parents=True, exist_ok=True)
    for way in ("direct", "indirect"):
        (folder / "capacities" / f"{high}_{way}.txt").write_text(f"{capacity:g}\n" * 8760)
    row = f"0\t0\t{impedance:g}\t0\t0\t0\n"
    (folder / f"{high}_parameters.txt").write_text(row * 8760)
    path = folder / "properties.ini"
    if not path.is_file():
        path.write_bytes(b"")
    properties = [
        ("hurdles-cost", "false"),
        ("loop-flow", "false"),
        ("use-phase-shifter", "false"),
        ("transmission-capacities", "enabled"),
        ("asset-type", "ac"),
        ("filter-synthesis", ALL_PERIODS),
        ("filter-year-by-year", ALL_PERIODS),
    ]
    _edit(path, lambda document: document.replace_section(high, properties))


def _meshed(study: Path) -> None:
    """A loop with impedances where FLOW QUAD. does not pool (multiple-ntc-sc-builder:
    sink 1 - source - sink 2 closed by a 300 MW sink 1 - sink 2 link; capacities x8 so
    that the sinks' imports vary by year without saturating): the real solver's quadratic
    step on the averages then binds differently for each year set."""
    for path in (study / "input" / "links").glob("*/capacities/*.txt"):
        rows = [row.split("\t") for row in path.read_text().splitlines()]
        path.write_text("".join("\t".join(f"{float(v) * 8:g}" for v in r) + "\n" for r in rows))
    areas = area_ids(study)
    if len(areas) < 2:
        raise NotApplicable(f"the loop needs two areas; the study has {len(areas)}")
    set_impedances(study, 1.0)
    first, second = areas[:2]
    add_link(study, first, second, capacity=300, impedance=0.1)


# -- thematic trimming, districts -------------------------------------------------------


def thematic_trimming(
    study: Path, *, drop: Sequence[str] = (), keep: Sequence[str] | None = None
) -> None:
    """`thematic-trimming = true` and `[variables selection]`: every variable but `drop`
    (`selected_vars_reset = true` + `select_var -`), or only `keep` (`selected_vars_reset
    = false` + `select_var +`)."""
    if keep is not None:
        items = [("selected_vars_reset", "false"), *(("select_var +", v) for v in keep)]
    else:
        items = [("selected_vars_reset", "true"), *(("select_var -", v) for v in drop)]

    def change(document: IniDocument) -> None:
        document.set("general", "thematic-trimming", "true")
        document.replace_section("variables selection", items)

    _edit(study / GENERALDATA, change)


def add_district(
    study: Path, name: str, areas: Sequence[str] | None = None, *, output: bool = True
) -> None:
    """A district `name` (its id; caption `District <name>`, the name its digest row
    shows) of `areas` (all areas when None) in input/areas/sets.ini."""
    path = study / "input" / "areas" / "sets.ini"
    if not path.is_file():
        path.write_bytes(b"")
    items = [("caption", f"District {name}"), ("comments", "made by a test")]
    items += [("output", str(output).lower())]
    items += [("apply-filter", "add-all")] if areas is None else [("+", a) for a in areas]
    _edit(path, lambda document: document.replace_section(name, items))


def set_district_output(study: Path, output: bool) -> None:
    """`output = true|false` on every district of sets.ini."""
    path = study / "input" / "areas" / "sets.ini"
    if not path.is_file():
        return

    def change(document: IniDocument) -> None:
        for section in document.sections():
            document.set(section, "output", str(output).lower())

    _edit(path, change)


# -- variants ---------------------------------------------------------------------------


class NotApplicable(Exception):
    """A variant's edits make no sense for this study (say, a loop between two areas in a
    study of one): nothing to compare, where a crash would stop a whole sweep."""


@dataclass(frozen=True)
class Variant:
    """Named edits of a study copy; the name keys the caches (use a new name for new edits)."""

    name: str
    apply: Callable[[Path], None]

    def make(self, source: Path, dest: Path) -> Path:
        """The edited copy; raises NotApplicable (leaving no copy) when the edits do not
        apply to this study."""
        study = copy_study(source, dest)
        try:
            self.apply(study)
        except NotApplicable:
            shutil.rmtree(study)
            raise
        return study


def full_output(study: Path) -> None:
    """year-by-year and synthesis on, trimming off: everything a run can write."""
    set_settings(study, "general", {"year-by-year": "true"})
    set_settings(study, "output", {"synthesis": "true"})


def _steps(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def apply(study: Path) -> None:
        for step in steps:
            step(study)

    return apply


def _section(section: str, **settings: str) -> Callable[[Path], None]:
    """Set keys of `section` (underscores in the keyword names become dashes)."""
    keys = {key.replace("_", "-"): value for key, value in settings.items()}
    return lambda study: set_settings(study, section, keys)


def _general(**settings: str) -> Callable[[Path], None]:
    return _section("general", **settings)


def _output(**settings: str) -> Callable[[Path], None]:
    return _section("output", **settings)


def _no_trimming(study: Path) -> None:
    set_settings(study, "general", {"geographic-trimming": "false", "thematic-trimming": "false"})


def _no_year_by_year_anywhere(study: Path) -> None:
    """The issue's case: synthesis daily only, no year-by-year output for anything."""
    geographic_trimming(study, areas=Filter("daily", ""), links=Filter("daily", ""))


def _random_filters(study: Path) -> None:
    random_filters(study, f"filters-{study.name}")


def _districts(study: Path) -> None:
    """A district of every area and, with two areas or more, one of the first area; the
    study's own districts without output. The real 8.8.10 solver crashes (SIGSEGV while
    exporting the digest) when more districts have output than the study has areas."""
    set_district_output(study, False)
    add_district(study, "everything")
    if len(area_ids(study)) >= 2:
        add_district(study, "first", area_ids(study)[:1])


def _constraint_outputs(study: Path) -> None:
    for section in constraint_sections(study):
        set_constraint_filter(study, section, Filter(ALL_PERIODS, "daily, annual"))


#: Variables a thematic trimming drops in the `thematic` variant (zonal, link, cluster).
DROPPED_VARIABLES = ("MRG. PRICE", "LOLP", "CONG. PROB +", "FLOW QUAD.", "NP Cost by plant")

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("as-is", lambda study: None),
        Variant("full", _steps(full_output, _no_trimming)),
        Variant("filters-no-year-by-year", _steps(full_output, _no_year_by_year_anywhere)),
        Variant("filters-random", _steps(full_output, _random_filters)),
        Variant(
            "thematic",
            _steps(
                full_output,
                lambda s: thematic_trimming(s, drop=DROPPED_VARIABLES),
            ),
        ),
        Variant(
            "thematic-keep",
            _steps(full_output, lambda s: thematic_trimming(s, keep=("OP. COST", "FLOW LIN."))),
        ),
        Variant("year-by-year-off", _steps(full_output, _general(year_by_year="false"))),
        Variant("synthesis-off", _steps(full_output, _output(synthesis="false"))),
        Variant("zip", _steps(full_output, _no_trimming, _output(result_format="zip"))),
        Variant("districts", _steps(full_output, _no_trimming, _districts)),
        Variant(
            "extras",
            _steps(
                full_output,
                _no_trimming,
                _output(storenewset="true"),
                _section("optimization", include_exportmps="both-optims"),
            ),
        ),
        Variant("impedances", _steps(full_output, _no_trimming, set_impedances)),
        Variant("meshed", _steps(full_output, _no_trimming, _meshed)),
        Variant("constraints", _steps(full_output, _no_trimming, _constraint_outputs)),
        Variant("adequacy", _steps(full_output, _no_trimming, _general(mode="Adequacy"))),
        Variant("expansion", _steps(full_output, _no_trimming, _general(mode="Expansion"))),
    )
}


class VariantCache:
    """Each (study, variant) copied once under `work`: a stable folder, so that the real
    solver's per-session cache (keyed by folder) shares its runs between tests."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self._made: dict[tuple[str, str], Path] = {}

    def get(self, source: Path, variant: Variant | str) -> Path:
        chosen = VARIANTS[variant] if isinstance(variant, str) else variant
        key = (str(Path(source).resolve()), chosen.name)
        if key not in self._made:
            dest = self.work / chosen.name / Path(source).name
            self._made[key] = chosen.make(source, dest)
        return self._made[key]


@pytest.fixture(scope="session")
def study_variants(tmp_path_factory: pytest.TempPathFactory) -> VariantCache:
    """Study variants made once per session (their real runs are then cached too)."""
    return VariantCache(tmp_path_factory.mktemp("variants"))

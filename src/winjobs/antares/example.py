"""The bundled example study `demo-study`: a small, real-format Antares 8.8 study.

Why generated: every byte of it comes from this code (no copy of third-party studies), the
committed copy under `winjobs/examples/demo-study/` is checked against this generator by a
test, and tests can write variants (other `nbyears`) into a temporary folder.

Three areas (north, south, west) joined by three links, one thermal cluster each, hourly
load, wind and solar time series with several columns (so MC years draw different series),
8 MC years, economy mode, year-by-year and synthesis on, cold start, no playlist. Numbers
are integer arithmetic only, so the files are byte-identical on every platform.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.resources import files
from pathlib import Path

__all__ = ["AREAS", "LINKS", "example_study_files", "example_study_path", "write_example_study"]

NAME = "demo-study"
AREAS = ("north", "south", "west")
LINKS = (("north", "south"), ("north", "west"), ("south", "west"))
HOURS = 8760
DAYS = 365

# area -> (cluster name, group, unit count, nominal MW, marginal cost EUR/MWh)
_CLUSTERS = {
    "north": ("nuclear", "Nuclear", 2, 900, 12),
    "south": ("gas", "Gas", 3, 450, 65),
    "west": ("coal", "Hard Coal", 2, 500, 42),
}
# area -> (base load MW, daily swing, winter bonus per day from mid-year, wind MW, solar MW)
_PROFILES = {
    "north": (1300, 300, 2, 500, 100),
    "south": (900, 250, 1, 200, 450),
    "west": (700, 180, 1, 350, 200),
}
# link -> (direct MW, indirect MW)
_CAPACITIES = {
    ("north", "south"): (900, 800),
    ("north", "west"): (600, 600),
    ("south", "west"): (400, 500),
}

# The hourly shape of a day (per mille of the swing), the same for all areas.
_DAY_SHAPE = (
    200, 150, 120, 100, 110, 180, 400, 650, 800, 850, 830, 800,
    780, 760, 740, 760, 820, 950, 1000, 980, 900, 750, 500, 300,
)  # fmt: skip


def _matrix(rows: int, row: Callable[[int], Iterable[int | str]]) -> bytes:
    return "".join("\t".join(str(v) for v in row(i)) + "\n" for i in range(rows)).encode()


def _triangle(x: int, period: int, height: int) -> int:
    """Integer triangle wave 0..height..0 over `period` steps."""
    phase = x % period
    half = period // 2
    return height * (phase if phase <= half else period - phase) // half


# -- settings --------------------------------------------------------------------------------

# Every section and key an Antares 8.8 study's generaldata.ini has, in Antares's order.
# `key =` lines get Antares's trailing space (`key = `) when written.
_GENERALDATA = """\
[general]
mode = Economy
horizon =
nbyears = {nbyears}
simulation.start = 1
simulation.end = 365
january.1st = Monday
first-month-in-year = january
first.weekday = Monday
leapyear = false
year-by-year = true
derated = false
custom-scenario = false
user-playlist = false
thematic-trimming = false
geographic-trimming = false
generate =
nbtimeseriesload = 1
nbtimeserieshydro = 1
nbtimeserieswind = 1
nbtimeseriesthermal = 1
nbtimeseriessolar = 1
refreshtimeseries =
intra-modal =
inter-modal =
refreshintervalload = 100
refreshintervalhydro = 100
refreshintervalwind = 100
refreshintervalthermal = 100
refreshintervalsolar = 100
readonly = false

[input]
import =

[output]
synthesis = true
storenewset = false
archives =
result-format = txt-files

[optimization]
simplex-range = week
transmission-capacities = local-values
include-constraints = true
include-hurdlecosts = true
include-tc-minstablepower = true
include-tc-min-ud-time = true
include-dayahead = true
include-strategicreserve = true
include-spinningreserve = true
include-primaryreserve = true
include-exportmps = none
include-exportstructure = false
include-unfeasible-problem-behavior = error-verbose
solver-logs = false

[adequacy patch]
include-adq-patch = false
set-to-null-ntc-from-physical-out-to-physical-in-for-first-step = true
set-to-null-ntc-between-physical-out-for-first-step = true
enable-first-step = false
price-taking-order = DENS
include-hurdle-cost-csr = false
check-csr-cost-function = false
threshold-initiate-curtailment-sharing-rule = 0.000000
threshold-display-local-matching-rule-violations = 0.000000
threshold-csr-variable-bounds-relaxation = 3

[other preferences]
initial-reservoir-levels = cold start
hydro-heuristic-policy = accommodate rule curves
hydro-pricing-mode = fast
power-fluctuations = free modulations
shedding-policy = shave peaks
unit-commitment-mode = fast
number-of-cores-mode = medium
renewable-generation-modelling = aggregated

[advanced parameters]
accuracy-on-correlation =

[seeds - Mersenne Twister]
seed-tsgen-wind = 5489
seed-tsgen-load = 1005489
seed-tsgen-hydro = 2005489
seed-tsgen-thermal = 3005489
seed-tsgen-solar = 4005489
seed-tsnumbers = 5005489
seed-unsupplied-energy-costs = 6005489
seed-spilled-energy-costs = 7005489
seed-thermal-costs = 8005489
seed-hydro-costs = 9005489
seed-initial-reservoir-levels = 10005489

"""


def _text(template: str, **values: object) -> bytes:
    """A template as Antares writes it: `key =` lines end with `= ` (a trailing space)."""
    lines = template.format(**values).split("\n")
    return "\n".join(line + " " if line.endswith(" =") else line for line in lines).encode()


def _settings(nbyears: int) -> dict[str, bytes]:
    return {
        "study.antares": _text(_STUDY, name=NAME),
        "settings/generaldata.ini": _text(_GENERALDATA, nbyears=nbyears),
        "settings/scenariobuilder.dat": b"[Default Ruleset]\n",
        "settings/comments.txt": b"Example study bundled with antares-winjobs.\n",
        "layers/layers.ini": _text(_LAYERS),
    }


_STUDY = """\
[antares]
version = 880
caption = {name}
created = 1700000000
lastsave = 1700000000
author = winjobs

"""
_LAYERS = "[layers]\n0 = All\n[activeLayer]\nactiveLayerID = 0\nshowAllLayer = true\n"
_EVERY = "hourly, daily, weekly, monthly, annual"

# -- areas and links -------------------------------------------------------------------------

_OPTIMIZATION = """\
[nodal optimization]
non-dispatchable-power = true
dispatchable-hydro-power = true
other-dispatchable-power = true
spread-unsupplied-energy-cost = 0.000000
spread-spilled-energy-cost = 0.000000

[filtering]
filter-synthesis = {every}
filter-year-by-year = {every}

"""
_UI = """\
[ui]
x = {x}
y = {y}
color_r = {r}
color_g = {g}
color_b = {b}
layers = 0
[layerX]
0 = {x}

[layerY]
0 = {y}

[layerColor]
0 = {r} , {g} , {b}

"""
_LINK = """\
[{end}]
hurdles-cost = true
loop-flow = false
use-phase-shifter = false
transmission-capacities = enabled
asset-type = ac
link-style = plain
link-width = 1
colorr = 112
colorg = 112
colorb = 112
display-comments = true
filter-synthesis = {every}
filter-year-by-year = {every}

"""


def _area_files(area: str, index: int) -> dict[str, bytes]:
    base = f"input/areas/{area}"
    colour = {"r": 40 + 80 * index, "g": 160 - 40 * index, "b": 200 - 60 * index}
    return {
        f"{base}/optimization.ini": _text(_OPTIMIZATION, every=_EVERY),
        f"{base}/ui.ini": _text(_UI, x=100 * index, y=-60 * index, **colour),
        f"{base}/adequacy_patch.ini": b"[adequacy-patch]\nadequacy-patch-mode = outside\n\n",
    }


def _capacity(megawatts: int, shift: int) -> bytes:
    """Hourly transfer capacity dipping by up to 20 % over each week."""
    return _matrix(HOURS, lambda h: [megawatts - _triangle(h + shift, 168, megawatts // 5)])


def _link_files() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for origin in AREAS:
        ends = [end for start, end in LINKS if start == origin]
        out[f"input/links/{origin}/properties.ini"] = b"".join(
            _text(_LINK, end=end, every=_EVERY) for end in ends
        )
        for end in ends:
            direct, indirect = _CAPACITIES[(origin, end)]
            capacities = f"input/links/{origin}/capacities/{end}"
            out[f"{capacities}_direct.txt"] = _capacity(direct, 0)
            out[f"{capacities}_indirect.txt"] = _capacity(indirect, 84)
            # hurdle costs direct/indirect, impedances, loop flow, phase-shifter bounds
            out[f"input/links/{origin}/{end}_parameters.txt"] = _matrix(
                HOURS, lambda h: [1, 1, 0, 0, 0, 0]
            )
    return out


# -- time series -----------------------------------------------------------------------------


def _load(area: str, hour: int, column: int) -> int:
    base, swing, winter, _, _ = _PROFILES[area]
    day = hour // 24
    weekend = 120 if day % 7 in (5, 6) else 0
    seasonal = winter * abs(182 - day)
    return base + swing * _DAY_SHAPE[hour % 24] // 1000 + seasonal - weekend + 40 * column


def _wind(area: str, hour: int, column: int) -> int:
    capacity = _PROFILES[area][3]
    return _triangle(hour * (column + 2) + 37 * column, 97 + 23 * column, capacity)


def _solar(area: str, hour: int, column: int) -> int:
    capacity = _PROFILES[area][4]
    hour_of_day, day = hour % 24, hour // 24
    if not 6 <= hour_of_day <= 19:
        return 0
    summer = 1000 - 3 * abs(172 - day)
    return max(
        0, capacity * _triangle(hour_of_day - 6, 14, 1000) * summer // 1_000_000 - 5 * column
    )


_CLUSTER = """\
[{name}]
name = {name}
group = {group}
unitcount = {units}
nominalcapacity = {nominal}.000000
marginal-cost = {cost}.000000
market-bid-cost = {cost}.000000

"""


def _thermal_files(area: str) -> dict[str, bytes]:
    name, group, units, nominal, cost = _CLUSTERS[area]
    maintenance_week = 4 * AREAS.index(area)

    def available(hour: int) -> list[int]:
        in_maintenance = (hour // 168) % 13 == maintenance_week
        return [units * nominal - (nominal if in_maintenance else 0)]

    cluster = _text(_CLUSTER, name=name, group=group, units=units, nominal=nominal, cost=cost)
    prepro, series = f"input/thermal/prepro/{area}/{name}", f"input/thermal/series/{area}/{name}"
    return {
        f"input/thermal/clusters/{area}/list.ini": cluster,
        f"{prepro}/data.txt": _matrix(DAYS, lambda d: [1, 1, 0, 0, 0, 0]),
        f"{prepro}/modulation.txt": _matrix(HOURS, lambda h: [1, 1, 1, 0]),
        f"{series}/series.txt": _matrix(HOURS, available),
        f"{series}/CO2Cost.txt": b"",
        f"{series}/fuelCost.txt": b"",
    }


def _series_files(area: str) -> dict[str, bytes]:
    out = {
        f"input/load/series/load_{area}.txt": _matrix(
            HOURS, lambda h: [_load(area, h, c) for c in range(3)]
        ),
        f"input/wind/series/wind_{area}.txt": _matrix(
            HOURS, lambda h: [_wind(area, h, c) for c in range(2)]
        ),
        f"input/solar/series/solar_{area}.txt": _matrix(
            HOURS, lambda h: [_solar(area, h, c) for c in range(2)]
        ),
    }
    for kind in ("load", "wind", "solar"):
        prepro = f"input/{kind}/prepro/{area}"
        out[f"{prepro}/conversion.txt"] = b"-9999999980506447872\t0\t9999999980506447872\n0\t0\t0\n"
        out[f"{prepro}/data.txt"] = _matrix(12, lambda m: [1, 1, 0, 1, 1, 1])
        out[f"{prepro}/k.txt"] = b""
        out[f"{prepro}/translation.txt"] = b""
        out[f"{prepro}/settings.ini"] = b""
    return out


_HYDRO_PREPRO = b"[prepro]\nintermonthly-correlation = 0.500000\n\n"


def _hydro_files(area: str) -> dict[str, bytes]:
    capacity = "input/hydro/common/capacity"
    return {
        f"input/hydro/allocation/{area}.ini": f"[[allocation]]\n{area} = 1\n\n".encode(),
        f"{capacity}/creditmodulations_{area}.txt": _matrix(2, lambda r: [1] * 101),
        f"{capacity}/inflowPattern_{area}.txt": _matrix(DAYS, lambda d: [1]),
        f"{capacity}/maxpower_{area}.txt": _matrix(DAYS, lambda d: [0, 24, 0, 24]),
        f"{capacity}/reservoir_{area}.txt": _matrix(DAYS, lambda d: [0, "0.500", 1]),
        f"{capacity}/waterValues_{area}.txt": b"",
        f"input/hydro/prepro/{area}/energy.txt": b"",
        f"input/hydro/prepro/{area}/prepro.ini": _HYDRO_PREPRO,
        f"input/hydro/series/{area}/mingen.txt": b"",
        f"input/hydro/series/{area}/mod.txt": b"",
        f"input/hydro/series/{area}/ror.txt": b"",
        f"input/misc-gen/miscgen-{area}.txt": b"",
        f"input/reserves/{area}.txt": b"",
        f"input/renewables/clusters/{area}/list.ini": b"",
        f"input/st-storage/clusters/{area}/list.ini": b"",
    }


def _per_area(section: str, value: str) -> str:
    return f"[{section}]\n" + "".join(f"{area} = {value}\n" for area in AREAS) + "\n"


_HYDRO_SECTIONS = (
    ("inter-daily-breakdown", "1.000000"),
    ("intra-daily-modulation", "24.000000"),
    ("inter-monthly-breakdown", "1.000000"),
    ("initialize reservoir date", "0"),
    ("leeway low", "1.000000"),
    ("leeway up", "1.000000"),
    ("pumping efficiency", "1.000000"),
)
_SETS = """\
[all areas]
caption = All areas
comments = Spatial aggregates on all areas
output = false
apply-filter = add-all

"""


def _common_files() -> dict[str, bytes]:
    correlation = b"[general]\nmode = annual\n\n[annual]\n\n"
    thermal = _per_area("unserverdenergycost", "3000.000000")
    thermal += _per_area("spilledenergycost", "0.000000")
    return {
        "input/areas/list.txt": "".join(f"{area}\n" for area in AREAS).encode(),
        "input/areas/sets.ini": _text(_SETS),
        "input/thermal/areas.ini": thermal.encode(),
        "input/hydro/hydro.ini": "".join(_per_area(*item) for item in _HYDRO_SECTIONS).encode(),
        "input/hydro/prepro/correlation.ini": correlation,
        "input/load/prepro/correlation.ini": correlation,
        "input/wind/prepro/correlation.ini": correlation,
        "input/solar/prepro/correlation.ini": correlation,
        "input/bindingconstraints/bindingconstraints.ini": b"",
    }


def example_study_files(nbyears: int = 8) -> dict[str, bytes]:
    """Every file of the example study: relative posix path -> content."""
    if nbyears < 1:
        raise ValueError(f"nbyears must be >= 1, got {nbyears}")
    out = _settings(nbyears) | _common_files() | _link_files()
    for index, area in enumerate(AREAS):
        out |= _area_files(area, index) | _series_files(area)
        out |= _thermal_files(area) | _hydro_files(area)
    return dict(sorted(out.items()))


def write_example_study(dest: Path, nbyears: int = 8) -> Path:
    """Write the example study into `dest` (created; must not exist or be empty)."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} exists and is not empty")
    for relative, content in example_study_files(nbyears).items():
        path = dest / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return dest


def example_study_path() -> Path:
    """The committed copy shipped inside the package (`winjobs/examples/demo-study`)."""
    path = Path(str(files("winjobs").joinpath("examples", NAME)))
    if not (path / "study.antares").is_file():
        raise FileNotFoundError(f"the bundled example study is missing from {path}")
    return path

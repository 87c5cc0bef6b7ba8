"""The output variables of the real 8.8 solver, as data: which columns a run's files hold.

The solver's variable lists are static C++ type lists (`solver/variable/economy/all.h`,
`adequacy/all.h`, v8.8.10); this module writes them down in their order. An `Entry` is one
column of a values file (`OV. COST`, `CO2 EMIS.`...) or one per-plant variable of a details
file (`DTG by plant` prints one `MWh` column per thermal cluster). Facts kept from the
sources:

- areas, sets of areas (districts) and links each have their own list, and adequacy mode
  has shorter lists than economy (no LOOP FLOW, DENS, NP COST, NODU...);
- a variable is printed unless thematic trimming (`thematic-trimming = true` and the
  `[variables selection]` of generaldata.ini) switched it off, or the study's options
  exclude it: renewable clusters exclude WIND and SOLAR, aggregated renewables exclude the
  renewable groups, and no adequacy patch excludes DENS, LMR VIOL., UNSP. ENRG CSR and DTG
  MRG CSR. The print names of that selection are the economy list's captions (one per
  column of a multi-column variable, one per per-plant variable), upper-cased;
- H. LEV, H. OVFL and H. VAL may be non applicable: `N/A` in every cell of an area without
  hydro reservoir management, and always in a district.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from winjobs.antares.ini import IniDocument, as_bool

VALUES = "values"
DETAILS = "details"
DETAILS_RES = "details-res"
DETAILS_STS = "details-STstorage"


@dataclass(frozen=True)
class Entry:
    """One column of a values file (`caption`), or one per-plant variable of a details
    file (`caption` is then its unit row text, `MWh`, and `name` its print name)."""

    caption: str
    kind: str = VALUES
    name: str = ""  # print name when it differs from the caption (per-plant variables)
    possibly_na: bool = False
    multiple: bool = False  # a column of a multi-column variable (emissions, groups...)

    @property
    def print_name(self) -> str:
        return (self.name or self.caption).upper()


def _values(*captions: str) -> tuple[Entry, ...]:
    """The columns of one multi-column variable."""
    return tuple(Entry(caption, multiple=True) for caption in captions)


def _plant(kind: str, unit: str, name: str) -> tuple[Entry, ...]:
    return (Entry(unit, kind, name),)


POLLUTANTS = ("CO2", "NH3", "SO2", "NOX", "PM2_5", "PM5", "PM10", "NMVOC",
              "OP1", "OP2", "OP3", "OP4", "OP5")  # fmt: skip
THERMAL_GROUPS = ("NUCLEAR", "LIGNITE", "COAL", "GAS", "OIL", "MIX. FUEL",
                  "MISC. DTG", "MISC. DTG 2", "MISC. DTG 3", "MISC. DTG 4")  # fmt: skip
RENEWABLE_GROUPS = ("WIND OFFSHORE", "WIND ONSHORE", "SOLAR CONCRT.", "SOLAR PV",
                    "SOLAR ROOFT", "RENW. 1", "RENW. 2", "RENW. 3", "RENW. 4")  # fmt: skip
STORAGE_GROUPS = ("PSP_open", "PSP_closed", "Pondage", "Battery",
                  "Other1", "Other2", "Other3", "Other4", "Other5")  # fmt: skip
STORAGE_PARTS = ("injection", "withdrawal", "level")

#: The solver's variables, each a block of entries, by the name the lists below use.
_BLOCKS: dict[str, tuple[Entry, ...]] = {
    "EMISSIONS": _values(*(f"{p} EMIS." for p in POLLUTANTS)),
    "DTG BY PLANT": _plant(DETAILS, "MWh", "DTG by plant"),
    "RES BY PLANT": _plant(DETAILS_RES, "MWh", "RES generation by plant"),
    "THERMAL GROUPS": _values(*THERMAL_GROUPS),
    "RENEWABLE GROUPS": _values(*RENEWABLE_GROUPS),
    "H. LEV": (Entry("H. LEV", possibly_na=True),),
    "H. OVFL": (Entry("H. OVFL", possibly_na=True),),
    "H. VAL": (Entry("H. VAL", possibly_na=True),),
    "STORAGE GROUPS": _values(*(f"{g}_{p}" for g in STORAGE_GROUPS for p in STORAGE_PARTS)),
    "STS INJ": _plant(DETAILS_STS, "P-injection - MW", "STS inj by plant"),
    "STS WITHDRAWAL": _plant(DETAILS_STS, "P-withdrawal - MW", "STS withdrawal by plant"),
    "STS LEVEL": _plant(DETAILS_STS, "Levels - MWh", "STS lvl by plant"),
    "STS CASHFLOW": _plant(DETAILS_STS, "CashFlow - Euro", "STS Cashflow By Cluster"),
    "NP COST BY PLANT": _plant(DETAILS, "NP Cost - Euro", "NP Cost by plant"),
    "NODU BY PLANT": _plant(DETAILS, "NODU", "NODU by plant"),
    "PROFIT BY PLANT": _plant(DETAILS, "Profit - Euro", "Profit by plant"),
    "CONG. PROB": _values("CONG. PROB +", "CONG. PROB -"),
}

_HYDRO = ("H. STOR", "H. PUMP", "H. LEV", "H. INFL", "H. OVFL", "H. VAL", "H. COST")
_SUPPLY = ("BALANCE", "ROW BAL.", "PSP", "MISC. NDG", "LOAD", "H. ROR", "WIND", "SOLAR")

#: Economy mode (`economy/all.h`): areas, sets of areas, links.
ECONOMY_AREA = (
    "OV. COST", "OP. COST", "MRG. PRICE", "EMISSIONS", "DTG BY PLANT", "RES BY PLANT",
    *_SUPPLY, "THERMAL GROUPS", "RENEWABLE GROUPS", *_HYDRO, "STORAGE GROUPS",
    "STS INJ", "STS WITHDRAWAL", "STS LEVEL", "STS CASHFLOW",
    "UNSP. ENRG", "DENS", "LMR VIOL.", "SPIL. ENRG", "LOLD", "LOLP", "AVL DTG", "DTG MRG",
    "DTG MRG CSR", "UNSP. ENRG CSR", "MAX MRG", "NP COST", "NP COST BY PLANT", "NODU",
    "NODU BY PLANT", "PROFIT BY PLANT",
)  # fmt: skip
ECONOMY_SET = (
    "OV. COST", "OP. COST", "MRG. PRICE", "EMISSIONS", *_SUPPLY, "THERMAL GROUPS",
    "RENEWABLE GROUPS", *_HYDRO, "STORAGE GROUPS", "UNSP. ENRG", "DENS", "LMR VIOL.",
    "SPIL. ENRG", "LOLD", "LOLP", "AVL DTG", "DTG MRG", "DTG MRG CSR", "MAX MRG", "NP COST",
    "NODU",
)  # fmt: skip
ECONOMY_LINK = (
    "FLOW LIN.", "UCAP LIN.", "LOOP FLOW", "FLOW QUAD.", "CONG. FEE (ALG.)",
    "CONG. FEE (ABS.)", "MARG. COST", "CONG. PROB", "HURDLE COST",
)  # fmt: skip

#: Adequacy mode (`adequacy/all.h`).
ADEQUACY_AREA = (
    "OV. COST", "OP. COST", "MRG. PRICE", "EMISSIONS", "DTG BY PLANT", "RES BY PLANT",
    *_SUPPLY, "THERMAL GROUPS", "RENEWABLE GROUPS", *_HYDRO, "STORAGE GROUPS",
    "STS INJ", "STS WITHDRAWAL", "STS LEVEL", "UNSP. ENRG", "SPIL. ENRG", "LOLD", "LOLP",
    "AVL DTG", "DTG MRG", "MAX MRG", "PROFIT BY PLANT",
)  # fmt: skip
ADEQUACY_SET = (
    "OV. COST", "OP. COST", "MRG. PRICE", "EMISSIONS", *_SUPPLY, "THERMAL GROUPS",
    "RENEWABLE GROUPS", *_HYDRO, "STORAGE GROUPS", "UNSP. ENRG", "SPIL. ENRG", "LOLD", "LOLP",
    "AVL DTG", "DTG MRG", "MAX MRG",
)  # fmt: skip
ADEQUACY_LINK = tuple(name for name in ECONOMY_LINK if name != "LOOP FLOW")

BC_MARGINAL_COST = "BC. MARG. COST"

_LISTS = {
    "economy": (ECONOMY_AREA, ECONOMY_SET, ECONOMY_LINK),
    "adequacy": (ADEQUACY_AREA, ADEQUACY_SET, ADEQUACY_LINK),
}


def entries(names: Iterable[str]) -> tuple[Entry, ...]:
    """The entries of a list of block names, in order."""
    return tuple(e for name in names for e in _BLOCKS.get(name, (Entry(name),)))


#: Every print name the solver knows: the economy lists', whatever the mode.
KNOWN_NAMES: frozenset[str] = frozenset(
    e.print_name for e in (*entries(ECONOMY_AREA), *entries(ECONOMY_LINK), Entry(BC_MARGINAL_COST))
)

_AGGREGATED_ONLY = frozenset({"WIND", "SOLAR"})
_ADQ_PATCH_ONLY = frozenset({"DENS", "LMR VIOL.", "UNSP. ENRG CSR", "DTG MRG CSR"})


@dataclass(frozen=True)
class Selection:
    """Which variables a run prints (print names, upper-cased), and the names of the
    `[variables selection]` lines the solver would warn about."""

    printed: frozenset[str]
    unknown: tuple[str, ...] = ()

    def __contains__(self, entry: object) -> bool:
        if isinstance(entry, Entry):
            return entry.print_name in self.printed
        return isinstance(entry, str) and entry.upper() in self.printed


def selection(generaldata: IniDocument) -> Selection:
    """Replay the solver: every variable printed; `[variables selection]` applied in file
    order (`selected_vars_reset = B` sets all to B, `select_var + / - = NAME` one); all
    printed again without thematic trimming; then the study's exclusions."""
    printed = dict.fromkeys(KNOWN_NAMES, True)
    unknown: list[str] = []
    for key, value in generaldata.items("variables selection"):
        key = key.strip().lower()
        if key == "selected_vars_reset":
            printed = dict.fromkeys(printed, as_bool(value))
        elif key in ("select_var +", "select_var -"):
            name = value.strip().upper()
            if name in printed:
                printed[name] = key.endswith("+")
            else:
                unknown.append(value.strip())
    if not as_bool(generaldata.get("general", "thematic-trimming")):
        printed = dict.fromkeys(printed, True)
    modelling = generaldata.get("other preferences", "renewable-generation-modelling") or ""
    excluded: set[str] = set()
    if modelling.strip().lower() == "clusters":
        excluded |= _AGGREGATED_ONLY
    else:  # aggregated, the default before 8.1, and an unknown value alike
        excluded |= set(RENEWABLE_GROUPS)
    if not as_bool(generaldata.get("adequacy patch", "include-adq-patch")):
        excluded |= _ADQ_PATCH_ONLY
    kept = frozenset(name for name, on in printed.items() if on and name not in excluded)
    return Selection(kept, tuple(unknown))


@dataclass(frozen=True)
class Lists:
    """The printed entries of each object kind for one run."""

    area: tuple[Entry, ...]
    district: tuple[Entry, ...]
    link: tuple[Entry, ...]
    binding_constraints: bool
    zonal: bool  # any area variable printed: else no area nor district folder at all
    links: bool  # any link variable printed: else no link folder


def printed_lists(mode: str, chosen: Selection) -> Lists:
    """The printed entries of `mode`'s lists. Whether areas and links get folders at all
    is counted on the economy lists, whatever the mode, like the solver."""
    area, district, link = (entries(names) for names in _LISTS[mode])
    return Lists(
        area=tuple(e for e in area if e in chosen),
        district=tuple(e for e in district if e in chosen),
        link=tuple(e for e in link if e in chosen),
        binding_constraints=BC_MARGINAL_COST in chosen,
        zonal=any(e in chosen for e in entries(ECONOMY_AREA)),
        links=any(e in chosen for e in entries(ECONOMY_LINK)),
    )

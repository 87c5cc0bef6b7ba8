"""Catalogue of the solver's output variables: caption, unit, decimals and statistics.

Captions, units and column order are those of real Antares 8.8.10 runs
(`real-outputs/`); the statistic rules are FORMAT.md section 6. A rule says which
sub-columns a variable has in mc-all files and how partial runs pool:

- FULL: `EXP std min max` (+ `min max` years in id files); weighted mean and std.
- EXP_ONLY: `EXP` alone (OV. COST, PSP, MISC. NDG, LMR VIOL., every details variable).
- MEAN_VALUES: the weighted mean printed under `values` (LOLP).
- CONG_PROB: `values`; hourly the weighted share of congested years, daily..annual the
  UNWEIGHTED share of years with a congested hour (100/K each), so it pools by year count.
- INPUT_COPY: `values`, a copy of input data identical in every year (ROW BAL., LOOP FLOW).
- QUAD_FLOW: FLOW QUAD., `values`, solved once after the last year on the years' weighted
  average balances and capacities (all 0 when no link has an impedance: the solver skips
  the quadratic step). On a network without loops those flows are the weighted mean of
  the years' linear flows (FLOW LIN. EXP), so partial runs pool as a weighted mean, like
  EXP; a loop of links with impedances makes it a true quadratic optimum that partial runs
  cannot give, and `winjobs.antares.network` refuses such a study at submit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Column:
    """One value column of a file: the variable caption (for details files: the cluster
    name), its unit row text (details: the per-plant variable), the statistic (`EXP`,
    `std`, `min`, `max`, `values`, or empty in mc-ind files) and its printed decimals."""

    caption: str
    unit: str
    stat: str = ""
    decimals: int = 0


class Rule(StrEnum):
    FULL = "full"
    EXP_ONLY = "exp-only"
    MEAN_VALUES = "mean-values"
    CONG_PROB = "cong-prob"
    INPUT_COPY = "input-copy"
    QUAD_FLOW = "quad-flow"


#: mc-all sub-column statistics of each rule, in file order.
MC_ALL_STATS: dict[Rule, tuple[str, ...]] = {
    Rule.FULL: ("EXP", "std", "min", "max"),
    Rule.EXP_ONLY: ("EXP",),
    Rule.MEAN_VALUES: ("values",),
    Rule.CONG_PROB: ("values",),
    Rule.INPUT_COPY: ("values",),
    Rule.QUAD_FLOW: ("values",),
}
ID_STATS = ("min", "max")
DETAILS_KINDS = ("details", "details-res", "details-STstorage")


@dataclass(frozen=True)
class Variable:
    caption: str
    unit: str
    decimals: int = 0
    rule: Rule = Rule.FULL

    def mc_all_columns(self) -> list[Column]:
        return [Column(self.caption, self.unit, s, self.decimals) for s in MC_ALL_STATS[self.rule]]

    def id_columns(self) -> list[Column]:
        if self.rule is not Rule.FULL:
            return []
        return [Column(self.caption, self.unit, s, 0) for s in ID_STATS]

    def mc_ind_column(self) -> Column:
        return Column(self.caption, self.unit, "", self.decimals)


def _v(caption: str, unit: str, decimals: int = 0, rule: Rule = Rule.FULL) -> Variable:
    return Variable(caption, unit, decimals, rule)


_POLLUTANTS: tuple[str, ...] = (
    "CO2", "NH3", "SO2", "NOX", "PM2_5", "PM5", "PM10", "NMVOC", "OP1", "OP2", "OP3", "OP4", "OP5",
)  # fmt: skip
_THERMAL_GROUPS = (
    "NUCLEAR", "LIGNITE", "COAL", "GAS", "OIL", "MIX. FUEL",
    "MISC. DTG", "MISC. DTG 2", "MISC. DTG 3", "MISC. DTG 4",
)  # fmt: skip
#: Renewables when `renewable-generation-modelling = clusters` (8.1+).
RENEWABLE_GROUPS = (
    "WIND OFFSHORE", "WIND ONSHORE", "SOLAR CONCRT.", "SOLAR PV", "SOLAR ROOFT",
    "RENW. 1", "RENW. 2", "RENW. 3", "RENW. 4",
)  # fmt: skip
_STORAGE_GROUPS: tuple[str, ...] = (
    "PSP_open", "PSP_closed", "Pondage", "Battery",
    "Other1", "Other2", "Other3", "Other4", "Other5",
)  # fmt: skip


def area_variables(*, renewable_clusters: bool = True) -> tuple[Variable, ...]:
    """The 8.8 area (and district) values variables in file order; with
    `renewable_clusters=False` the aggregated WIND/SOLAR pair replaces the groups."""
    renewables = RENEWABLE_GROUPS if renewable_clusters else ("WIND", "SOLAR")
    return (
        _v("OV. COST", "Euro", rule=Rule.EXP_ONLY),
        _v("OP. COST", "Euro"),
        _v("MRG. PRICE", "Euro", 2),
        *(_v(f"{p} EMIS.", "Tons") for p in _POLLUTANTS),
        _v("BALANCE", "MWh"),
        _v("ROW BAL.", "MWh", rule=Rule.INPUT_COPY),
        _v("PSP", "MWh", rule=Rule.EXP_ONLY),
        _v("MISC. NDG", "MWh", rule=Rule.EXP_ONLY),
        _v("LOAD", "MWh"),
        _v("H. ROR", "MWh"),
        *(_v(g, "MWh") for g in (renewables[:2] if not renewable_clusters else ())),
        *(_v(g, "MWh") for g in _THERMAL_GROUPS),
        *(_v(g, "MWh") for g in (renewables if renewable_clusters else ())),
        _v("H. STOR", "MWh"),
        _v("H. PUMP", "MWh"),
        _v("H. LEV", "%", 2),
        _v("H. INFL", "MWh"),
        _v("H. OVFL", "%"),
        _v("H. VAL", "Euro/MWh", 2),
        _v("H. COST", "Euro"),
        *(
            _v(f"{g}_{part}", unit)
            for g in _STORAGE_GROUPS
            for part, unit in (("injection", "MW"), ("withdrawal", "MW"), ("level", "MWh"))
        ),
        _v("UNSP. ENRG", "MWh"),
        _v("SPIL. ENRG", "MWh"),
        _v("LOLD", "Hours", 2),
        _v("LOLP", "%", 2, Rule.MEAN_VALUES),
        _v("AVL DTG", "MWh"),
        _v("DTG MRG", "MWh"),
        _v("MAX MRG", "MWh"),
        _v("NP COST", "Euro"),
        _v("NODU", " "),
    )


LINK_VARIABLES: tuple[Variable, ...] = (
    _v("FLOW LIN.", "MWh"),
    _v("UCAP LIN.", "MWh"),
    _v("LOOP FLOW", "MWh", rule=Rule.INPUT_COPY),
    _v("FLOW QUAD.", "MWh", rule=Rule.QUAD_FLOW),
    _v("CONG. FEE (ALG.)", "Euro"),
    _v("CONG. FEE (ABS.)", "Euro"),
    _v("MARG. COST", "Euro/MW", 2),
    _v("CONG. PROB +", "%", 2, Rule.CONG_PROB),
    _v("CONG. PROB -", "%", 2, Rule.CONG_PROB),
    _v("HURDLE COST", "Euro"),
)

#: Variables of other versions or options (adequacy patch, binding constraints...).
_OTHER_VARIABLES: tuple[Variable, ...] = (
    _v("WIND", "MWh"),
    _v("SOLAR", "MWh"),
    _v("DENS", "MWh"),
    _v("LMR VIOL.", " ", rule=Rule.EXP_ONLY),
    _v("SPIL. ENRG CSR", "MWh"),
    _v("UNSP. ENRG CSR", "MWh"),
    _v("DTG MRG CSR", "MWh"),
    _v("BC. MARG. COST", "Euro", 2),
)

#: Per-plant variables of details files (the unit row names them), all EXP only.
DETAILS_VARIABLES: tuple[Variable, ...] = (
    _v("", "MWh", rule=Rule.EXP_ONLY),
    _v("", "NP Cost - Euro", rule=Rule.EXP_ONLY),
    _v("", "NODU", rule=Rule.EXP_ONLY),
    _v("", "Profit - Euro", rule=Rule.EXP_ONLY),
)

_BY_CAPTION: dict[str, Variable] = {
    v.caption: v for v in (*area_variables(), *LINK_VARIABLES, *_OTHER_VARIABLES)
}


def variable(caption: str) -> Variable | None:
    """The catalogued variable of a values-file caption (None when unknown)."""
    return _BY_CAPTION.get(caption)


def rule_for(kind: str, caption: str, stats: tuple[str, ...] = ()) -> Rule | None:
    """How a variable's mc-all columns pool. Details variables are EXP only; unknown
    captions are recognised by their mc-all statistics when those say it (`EXP std min
    max` or `EXP`); None when nothing says how to pool them."""
    if kind in DETAILS_KINDS:
        return Rule.EXP_ONLY
    known = variable(caption)
    if known is not None:
        return known.rule
    for rule in (Rule.FULL, Rule.EXP_ONLY):
        if stats == MC_ALL_STATS[rule]:
            return rule
    return None


def default_decimals(kind: str, caption: str, unit: str) -> int:
    """Decimals a column prints with when its text does not show them (all zeros)."""
    if kind == "id" or kind in DETAILS_KINDS:
        return 0
    known = variable(caption)
    return known.decimals if known is not None else 0

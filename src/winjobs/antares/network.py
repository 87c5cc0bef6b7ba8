"""The study facts behind FLOW QUAD.: which variables a run prints, the links, their
impedances, and whether the network has a loop.

After the last MC year the 8.8 solver runs a quadratic optimisation of the flows on the
years' weighted average area balances and link capacities (`ComputeFlowQuad`), when
FLOW QUAD. is printed and some link has a non-zero impedance at some hour; otherwise it
prints 0. On a network without loops the balances alone fix the flows, so FLOW QUAD. is
the weighted mean of the years' linear flows and partial runs pool exactly. A loop makes
it a true quadratic optimum of the averages (seen on the real solver: 3500 MWh on a link
whose FLOW LIN. EXP is 30000), which no pooling of partial runs reproduces: such a study
runs in one piece (`Study.split_blocker`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from winjobs.antares.ini import IniDocument, as_bool
from winjobs.errors import IniError

__all__ = ["find_loop", "flow_quad_blocker", "links", "variable_printed"]

#: Below this the solver takes an impedance for zero (`Math::Abs(imp) >= 1e-100`).
_IMPEDANCE_ZERO = 1e-100
#: 8.2+ `<to>_parameters.txt` column of the impedances; before 8.2 in `<to>.txt`.
_IMPEDANCE_COLUMN = {True: 2, False: 4}


def variable_printed(generaldata: IniDocument, caption: str) -> bool:
    """Whether the solver prints `caption`, replaying `[variables selection]` like it
    does (only with `thematic-trimming = true`; names compared upper-cased)."""
    if not as_bool(generaldata.get("general", "thematic-trimming")):
        return True
    printed = True
    wanted = caption.upper()
    for key, value in generaldata.items("variables selection"):
        key = key.lower()
        if key == "selected_vars_reset":
            printed = as_bool(value)
        elif key in ("select_var +", "select_var -") and value.strip().upper() == wanted:
            printed = key == "select_var +"
    return printed


def links(study_dir: Path) -> list[tuple[str, str]]:
    """Every link (from, to) of the study: the sections of `input/links/<from>/properties.ini`."""
    found: list[tuple[str, str]] = []
    root = Path(study_dir) / "input" / "links"
    for properties in sorted(root.glob("*/properties.ini")) if root.is_dir() else []:
        try:
            sections = IniDocument.read(properties).sections()
        except IniError:
            continue
        found.extend((properties.parent.name, other.lower()) for other in sections)
    return found


def _has_impedance(study_dir: Path, link: tuple[str, str], since_820: bool) -> bool:
    folder = Path(study_dir) / "input" / "links" / link[0]
    path = folder / (f"{link[1]}_parameters.txt" if since_820 else f"{link[1]}.txt")
    try:
        text = path.read_bytes()
    except OSError:
        return False
    if not text.strip():
        return False
    column = _IMPEDANCE_COLUMN[since_820]
    try:
        values = [
            float(fields[column])
            for line in text.decode("latin-1").splitlines()
            if (fields := line.partition("#")[0].split())
        ]
    except (ValueError, IndexError):  # a short or unreadable row: the file is not a table
        return False
    # plain Python, not numpy: `winjobs submit` checks this, and numpy is a third of the
    # command line's start-up
    return any(abs(value) >= _IMPEDANCE_ZERO for value in values)


def find_loop(pairs: Iterable[tuple[str, str]]) -> list[str] | None:
    """The areas of one loop of the undirected graph `pairs`, or None for a forest."""
    parent: dict[str, str] = {}
    adjacent: dict[str, list[str]] = {}

    def root(area: str) -> str:
        while parent.setdefault(area, area) != area:
            area = parent[area]
        return area

    for a, b in pairs:
        if a == b:
            return [a]
        if root(a) == root(b):
            return _path(adjacent, a, b) or [a, b]
        parent[root(a)] = root(b)
        adjacent.setdefault(a, []).append(b)
        adjacent.setdefault(b, []).append(a)
    return None


def _path(adjacent: dict[str, list[str]], start: str, goal: str) -> list[str] | None:
    """The tree path from start to goal (breadth first)."""
    previous: dict[str, str | None] = {start: None}
    queue = [start]
    for area in queue:
        if area == goal:
            path: list[str] = []
            step: str | None = area
            while step is not None:
                path.append(step)
                step = previous[step]
            return path[::-1]
        for other in adjacent.get(area, []):
            if other not in previous:
                previous[other] = area
                queue.append(other)
    return None


def flow_quad_blocker(
    study_dir: Path, generaldata: IniDocument, version: tuple[int, int]
) -> str | None:
    """Why partial runs cannot reproduce this study's FLOW QUAD. (None when they can)."""
    if not variable_printed(generaldata, "FLOW QUAD."):
        return None
    pairs = links(study_dir)
    loop = find_loop(pairs)
    since_820 = version >= (8, 2)
    if loop is None or not any(_has_impedance(study_dir, link, since_820) for link in pairs):
        return None
    return (
        "FLOW QUAD. is solved once after the last MC year on the averages of all years, "
        f"and its links form a loop ({' - '.join(loop)}) with impedances: partial runs "
        "cannot reproduce it, so the study runs in one piece (drop FLOW QUAD. with "
        "thematic trimming, `select_var - = FLOW QUAD.`, to split it)"
    )

"""What the stand-in says while it runs: the real solver's log lines, in its order.

The worker and the output layer read some of them (`MC-Years : [1 .. N], total: K`,
`Exporting results : X`, `[fatal]`); users read the rest. Wording follows real 8.8 logs
(`real-outputs/*/simulation.log`); lines about things the stand-in does not model (hydro
allocation, problem sizes...) are left out, and one line says it is a stand-in.
"""

from __future__ import annotations

import os
import platform
import socket

from winjobs.standin import tables
from winjobs.standin.calendar import log_lines
from winjobs.standin.layout import mode_title
from winjobs.standin.log import SolverLog
from winjobs.standin.model import RunSettings
from winjobs.standin.texts import STANDIN_NOTICE
from winjobs.standin.version import PosedVersion


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def log_header(log: SolverLog, version: PosedVersion, command: list[str]) -> None:
    """The first lines of every run (the log file starts here)."""
    log.check(f"Antares Solver v{version.text} ()")
    bits = "64-bit" if platform.architecture()[0].startswith("64") else "32-bit"
    log.info(f"  :: built for {bits} architectures, {platform.system()}, "
             f"{os.cpu_count() or 1} cpu(s)")  # fmt: skip
    log.info(f"  :: hostname = {socket.gethostname()}")
    log.info()
    log.info(f"  :: command: {' '.join(command)}")
    log.info(f"  :: log filename: {log.path}")
    log.info()
    log.info(f"  :: {STANDIN_NOTICE}")
    log.info()


def log_study(log: SolverLog, settings: RunSettings) -> None:
    """Study loading: version, mode, playlist, areas and sets of areas."""
    log.notice(f"Preparing {settings.caption}...")
    log.info(f"  detected version: {settings.study_file.get('antares', 'version', '')}")
    log.info(f"  from `{settings.path}`")
    log.info()
    log.info(f"  simulation mode: {mode_title(settings.mode)}")
    if settings.user_playlist:
        log.info(f"  {_plural(len(settings.years), 'year')} in the user's playlist")
        weighted = {y: w for y, w in settings.weights.items() if w != 1.0}
        if weighted:
            log.info(f"  {len(weighted)} years with weight !=1 in the user's playlist")
            top = max(weighted.values())
            years = " ".join(str(y) for y, w in weighted.items() if w == top)
            log.info(f"  maximum weight {top:.6f} for year(s) {years}")
    if settings.mode == "expansion":
        log.info("  :: enabling expansion")
    if settings.year_by_year:
        log.info("  :: enabling the 'year-by-year' mode")
    if settings.user_playlist:
        log.info("  :: enabling the user playlist")
    system = settings.system
    log.info("Loading the list of areas...")
    log.info(f"  Loading the area list from `{settings.path / 'input' / 'areas' / 'list.txt'}`")
    log.info(f"  {_plural(len(system.areas), 'area')} found")
    for index, area in enumerate(system.areas, start=1):
        log.info(f"Loading the area {index}/{len(system.areas)}: {area.name}")
    log.info("Loading sets of areas...")
    for district in system.districts:
        log.info(f"   found `{district.id}` ({_plural(len(district.members), 'item')})")


def log_loaded(log: SolverLog, settings: RunSettings) -> None:
    """From `The study is loaded.` to `MC-Years : [1 .. N], total: K`."""
    system = settings.system
    log.info("The study is loaded.")
    log.info()
    log.info("Generating calendar informations")
    for line in log_lines(system.calendar, settings.nbyears):
        log.info(line)
    log.info()
    log.info("Summary")
    log.info(f"     areas: {len(system.areas)}")
    log.info(f"     links: {len(system.links)}")
    log.info(f"     thermal clusters: {sum(len(a.clusters) for a in system.areas)}")
    log.info()
    log.check(f"Running the simulation ({settings.mode_folder})")
    lists = settings.lists
    log.info(" Variables: (synthetic, written by the stand-in)")
    for kind, entries in (("Areas", lists.area), ("Links", lists.link)):
        log.info(f"  + {kind}")
        for entry in entries:
            log.info(f"       {entry.name or entry.caption}")
    log.info()
    log.info(f"MC-Years : [1 .. {settings.nbyears}], total: {len(settings.years)}")
    log.info(" Starting the simulation")


def exported_names(settings: RunSettings, *, synthesis: bool) -> list[str]:
    """`Exporting results : X` lines of mc-all (`synthesis`) or of one year's mc-ind."""
    return tables.exported_names(settings.system, settings.lists, synthesis=synthesis)


def log_abort(log: SolverLog, message: str, *, quitting: bool = True) -> None:
    """How the real solver gives up: "Quitting the solver gracefully" (already logged
    when `quitting` is False), the `[fatal]` reason, then "Aborting now"."""
    if quitting:
        log.info("[UI] Quitting the solver gracefully")
    log.fatal(message)
    log.error("Aborting now. See logs for more details")

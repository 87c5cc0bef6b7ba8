"""Progress read from log lines the REAL Antares 8.8.10 solver printed (excerpts of runs
of the shared studies, `--force-parallel=2`), replayed line by line as the worker reads
the log while the solver runs."""

from __future__ import annotations

from winjobs.antares.output import parse_progress

_PREFIX = "[2026-12-02 04:05:25][solver]"

#: power-fluctuations-adequacy-v800: no year-by-year output, `synthesis = false`, five
#: years in batches of 2, 2 and 1; nothing but the last line says the last batch ended.
SYNTHESIS_OFF = [
    "[infos] MC-Years : [1 .. 5], total: 5",
    "[infos]  Starting the simulation",
    "[infos] parallel batch size : 2 (2 perfomed)",
    "[infos] Year(s) 1 2 ",
    "[infos] Solver MPS File: `problem-2-1--optim-nb-1.mps'",
    "[infos] parallel batch size : 2 (2 perfomed)",
    "[infos] Year(s) 3 4 ",
    "[infos] parallel batch size : 1 (1 perfomed)",
    "[infos] Year(s) 5 ",
    "[infos] Solver Criterion File: `criterion-5-1--optim-nb-2.txt'",
    "[infos] The simulation synthesis is disabled.",
    "[infos] [UI] Quitting the solver gracefully",
]

#: multiple-ntc-sc-builder: year-by-year output, each year exported when it ends; the
#: survey line comes coloured even in a file.
YEAR_BY_YEAR = [
    "[infos] MC-Years : [1 .. 5], total: 5",
    "[infos] parallel batch size : 2 (2 perfomed)",
    "[infos] Year(s) 1 2 ",
    "[infos] Exporting the annual results",
    "[infos] Exporting results : Sink 1",
    "[infos] Exporting the annual results",
    "[infos] parallel batch size : 2 (2 perfomed)",
    "[infos] Year(s) 3 4 ",
    "[infos] Exporting the annual results",
    "[infos] Exporting the annual results",
    "[infos] parallel batch size : 1 (1 perfomed)",
    "[infos] Year(s) 5 ",
    "[infos] Exporting the annual results",
    "\x1b[1;37m\x1b[1m[check]\x1b[0m \x1b[1;37m\x1b[1mExporting the survey results...\x1b[0m",
    "[infos] [UI] Quitting the solver gracefully",
]


def _replayed(lines: list[str]) -> list[int]:
    """Years done after each line of the log."""
    text = [f"{_PREFIX}{line}\n" for line in lines]
    return [parse_progress("".join(text[: n + 1])).years_done for n in range(len(text))]


def test_a_run_without_synthesis_ends_with_every_year_done() -> None:
    done = _replayed(SYNTHESIS_OFF)
    assert done == [0, 0, 0, 0, 0, 0, 2, 2, 4, 4, 5, 5]
    assert parse_progress("".join(f"{_PREFIX}{x}\n" for x in SYNTHESIS_OFF)).years_total == 5


def test_a_year_by_year_run_counts_each_exported_year() -> None:
    assert _replayed(YEAR_BY_YEAR) == [0, 0, 0, 1, 1, 2, 2, 2, 3, 4, 4, 4, 5, 5, 5]

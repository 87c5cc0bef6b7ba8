"""`winjobs merge`: turn partial runs of one study into a single run folder, locally."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from winjobs.antares.study import open_study
from winjobs.cli.app import app, console, err_console
from winjobs.cli.common import JsonOpt
from winjobs.ops.words import counted

if TYPE_CHECKING:  # the merge (numpy and all) is imported when a merge runs: every other
    # command of the command line starts faster without it
    from winjobs.antares.merge import McIndMode, MergeReport


def merge_facts(report: MergeReport) -> dict[str, Any]:
    """The `--json` contract: absolute paths, MC years 0-based as in every JSON we print."""
    return {
        "output": str(report.out_dir.absolute()),
        "runs": [str(run.absolute()) for run in report.runs],
        "years": list(report.years),
        "tables": report.tables,
        "mc_ind_years": report.mc_ind_years,
        "warnings": list(report.warnings),
    }


@app.command("merge")
def merge_command(
    runs: Annotated[
        list[Path],
        typer.Argument(
            help="Run folders or zipped runs (.zip) of the partial runs (disjoint MC years).",
            show_default=False,
        ),
    ],
    study: Annotated[
        Path, typer.Option("--study", help="The original study: its settings are the reference.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "-o",
            "--out",
            help="New folder for the merged run (must not exist); a .zip with result-format = zip.",
        ),
    ],
    mc_ind: Annotated[
        str,
        typer.Option(
            "--mc-ind",
            help="How per-year outputs reach OUT: copy, move (out of the partial runs) or "
            "link (symbolic links; on Windows needs Developer Mode).",
        ),
    ] = "copy",
    as_json: JsonOpt = False,
) -> None:
    """Merge partial runs of STUDY into OUT, a run folder like a single run of all years.

    RUN may be a run folder or a zipped run (<run>.zip). mc-all is pooled from the
    partial runs' statistics (no year-by-year output needed); results equal a single run
    within Antares' non-regression tolerances. When STUDY says result-format = zip, OUT is
    written as a zipped run (.zip added to its name when missing), like a single run.
    """
    if mc_ind not in ("copy", "move", "link"):
        raise typer.BadParameter("must be copy, move or link", param_hint="--mc-ind")
    how: McIndMode = "copy" if mc_ind == "copy" else "move" if mc_ind == "move" else "link"
    from winjobs.antares.merge import merge_runs

    zipped = open_study(study).zip_output
    if zipped and out.suffix != ".zip":
        out = out.with_name(out.name + ".zip")
    report = merge_runs(study, runs, out, mc_ind=how, zipped=zipped)
    if as_json:
        typer.echo(json.dumps(merge_facts(report), indent=2))
        return
    for warning in report.warnings:
        err_console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"merged {counted(len(report.runs), 'run')} ({counted(len(report.years), 'MC year')}, "
        f"{counted(report.tables, 'table')}, "
        f"{counted(report.mc_ind_years, 'year-by-year folder')}) into {report.out_dir.absolute()}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )

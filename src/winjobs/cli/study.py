"""`winjobs inspect STUDY`: what winjobs understands of a local study, before submitting it.

Years are shown 1-based, as `submit --years` takes them and Antares shows them; `--json`
keeps the study's 0-based years (`years`, weight keys), as the API does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from winjobs.antares.study import Study, open_study
from winjobs.cli.app import app, console
from winjobs.cli.years import format_years
from winjobs.ops.words import counted


def study_facts(study: Study) -> dict[str, Any]:
    """The `--json` contract: years 0-based ascending, weights of active years only (JSON
    object keys are strings)."""
    return {
        "name": study.name,
        "path": str(study.path),
        "version": study.version,
        "mode": study.mode,
        "nbyears": study.nbyears,
        "years": list(study.years),
        "weights": {str(year): weight for year, weight in study.weights.items()},
        "year_by_year": study.year_by_year,
        "synthesis": study.synthesis,
        "splittable": study.splittable,
        "hot_start": study.hot_start,
        "warnings": list(study.warnings),
    }


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _table(study: Study) -> Table:
    table = Table(
        title=f"Study [bold]{escape(study.name)}[/bold]", show_header=False, title_justify="left"
    )
    table.add_column(style="cyan")
    table.add_column()
    table.add_row("folder", escape(str(study.path.absolute())))
    table.add_row("Antares version", study.version)
    table.add_row("mode", study.mode)
    table.add_row("MC years (nbyears)", str(study.nbyears))
    table.add_row(
        "active years", f"{format_years(study.years)}  ({counted(len(study.years), 'year')})"
    )
    if any(weight != 1.0 for weight in study.weights.values()):
        table.add_row(
            "weights",
            ", ".join(f"{year + 1}: {weight:g}" for year, weight in study.weights.items()),
        )
    table.add_row("year-by-year output", _yes(study.year_by_year))
    table.add_row("synthesis (mc-all)", _yes(study.synthesis))
    table.add_row("splittable", "yes" if study.splittable else f"no ({study.split_blocker})")
    return table


@app.command()
def inspect(
    study: Annotated[Path, typer.Argument(help="The study folder (with study.antares).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")] = False,
) -> None:
    """Validate a study and print the facts winjobs will use (years, weights, warnings).

    Exit status 2 with a one-line reason when the study cannot be run by winjobs.
    """
    facts = open_study(study)
    if as_json:
        typer.echo(json.dumps(study_facts(facts), indent=2))
        return
    console.print(_table(facts))
    for warning in facts.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)

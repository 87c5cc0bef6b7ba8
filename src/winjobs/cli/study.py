"""`winjobs inspect STUDY`: what winjobs understands of a local study, before submitting it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from winjobs.antares.study import Study, open_study
from winjobs.cli.app import app, console


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


def format_years(years: tuple[int, ...] | list[int]) -> str:
    """`0-3, 5, 7-9`: consecutive runs collapsed."""
    runs: list[str] = []
    start = previous = None
    for year in [*years, None]:
        if year is not None and previous is not None and year == previous + 1:
            previous = year
            continue
        if start is not None:
            runs.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = year
    return ", ".join(runs)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _table(study: Study) -> Table:
    table = Table(
        title=f"Study [bold]{escape(study.name)}[/bold]", show_header=False, title_justify="left"
    )
    table.add_column(style="cyan")
    table.add_column()
    table.add_row("folder", escape(str(study.path)))
    table.add_row("Antares version", study.version)
    table.add_row("mode", study.mode)
    table.add_row("MC years (nbyears)", str(study.nbyears))
    table.add_row(
        "active years (0-based)", f"{format_years(study.years)}  ({len(study.years)} years)"
    )
    if any(weight != 1.0 for weight in study.weights.values()):
        table.add_row(
            "weights", ", ".join(f"{year}: {weight:g}" for year, weight in study.weights.items())
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

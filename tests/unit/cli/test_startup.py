"""The command line starts with only what its command needs: every `winjobs jobs`,
`winjobs show` (and every CLI call of the suite, and the driver's assembly process, which
imports the command line as its parent's main module) pays for what it imports; numpy
alone was a sixth of it, every other command's module another sixth."""

from __future__ import annotations

import subprocess
import sys

import typer

from winjobs.cli import COMMAND_MODULES, app, register_commands

#: imported only by the commands that need them (the driver, the worker, a merge)
HEAVY = ("numpy", "fastapi", "sqlalchemy", "uvicorn", "alembic", "jinja2")


def _probe(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.split()


def test_no_command_module_imports_the_heavy_libraries() -> None:
    probe = (
        "import sys, winjobs.cli; winjobs.cli.register_commands([]); "
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    assert _probe(probe) == []


def test_a_command_imports_its_own_module_only() -> None:
    probe = (
        "import sys, winjobs.cli; winjobs.cli.register_commands(['--debug', 'jobs', '--json']); "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('winjobs.cli.'))))"
    )
    loaded = {name.removeprefix("winjobs.cli.") for name in _probe(probe)}
    assert "jobs" in loaded
    assert not loaded & {"demo", "worker_cmd", "driver_cmd", "slurm_cmd", "submit", "runs"}


def _registered_by() -> dict[str, str]:
    """Each top-level command and the module that registered it."""
    found = {}
    for command in app.registered_commands:
        assert command.callback is not None
        name = command.name or command.callback.__name__.replace("_", "-")
        found[name] = command.callback.__module__
    for group in app.registered_groups:
        assert group.name is not None and isinstance(group.typer_instance, typer.Typer)
        first = group.typer_instance.registered_commands[0].callback
        assert first is not None
        found[group.name] = first.__module__
    return found


def test_the_command_map_names_each_command_s_module() -> None:
    """A new command missing from COMMAND_MODULES would still show in `--help` but fail
    as `No such command` when typed: the map must list every command, in its module."""
    register_commands([])
    expected = {name: f"winjobs.cli.{module}" for name, module in COMMAND_MODULES.items()}
    assert _registered_by() == expected

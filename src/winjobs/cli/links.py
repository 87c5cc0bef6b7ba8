"""`winjobs links setup-local | setup-remote`: the machine set-up of shared mode.

Windows: makes the links and shares (as administrator, after asking). Linux, or
`--platform` of another system: prints the equivalent commands for the operator to run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from winjobs.cli.app import app, console, err_console
from winjobs.cli.common import InputError
from winjobs.errors import WinjobsError
from winjobs.ops.links import (
    DEFAULT_ROOT,
    Access,
    Grant,
    LocalDisk,
    Platform,
    Step,
    command_line,
    drive_steps,
    folder_steps,
    linux_path_map,
    parse_folder,
    parse_remote,
    remote_steps,
)
from winjobs.ops.links_apply import apply_steps, fixed_disks, is_admin, this_platform

links_app = typer.Typer(
    help="Set up the symbolic links and shares of shared mode (docs/shared-mode.md).",
    no_args_is_help=True,
)
app.add_typer(links_app, name="links")


class NotAdministrator(WinjobsError):
    """Changing links and shares on Windows needs an elevated prompt."""


RootOpt = Annotated[
    str | None,
    typer.Option("--root", help=r"Folder of the links [C:\links on Windows, /srv/links on Linux]."),
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before changing anything.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the commands; change nothing.")]
PlatformOpt = Annotated[
    Platform | None,
    typer.Option(
        "--platform",
        help="Build the commands for this system instead of the current one (printed only).",
    ),
]


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _print_plan(steps: list[Step], platform: Platform) -> None:
    for number, step in enumerate(steps, 1):
        _say(f"# {number}. {step.what}")
        _say(command_line(step.argv, platform))


def _carry_out(steps: list[Step], platform: Platform, yes: bool, dry_run: bool) -> None:
    """Print (Linux, dry run, other platform) or make the changes (Windows, confirmed)."""
    if not steps:
        _say("nothing to do")
        return
    runnable = platform is Platform.WINDOWS and this_platform() is Platform.WINDOWS
    if dry_run or not runnable:
        if not dry_run and platform is Platform.LINUX:
            _say("# On Linux, winjobs prints these commands for you to run (as root where")
            _say("# marked sudo); check them first: mounting needs your share credentials.")
        _print_plan(steps, platform)
        return
    if not is_admin():
        raise NotAdministrator(
            "making links and shares needs an administrator: open the prompt with "
            "'Run as administrator' and run this command again (or --dry-run to see the "
            "commands)"
        )
    _print_plan(steps, platform)
    if not yes and not typer.confirm(f"Make these {len(steps)} changes?", default=False):
        err_console.print("nothing changed", markup=False)
        raise typer.Exit(1)
    for outcome in apply_steps(steps):
        state = "done" if outcome.done else outcome.note or "skipped"
        _say(f"{state}: {outcome.step.what}")


@links_app.command("setup-local")
def setup_local(
    folders: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[NAME=]FOLDER...",
            help=r"winjobs' data folders to share, e.g. D:\winjobs (shared as \\THIS-MACHINE"
            r"\winjobs); NAME= names the share.",
            show_default=False,
        ),
    ] = None,
    grant: Annotated[
        list[str] | None,
        typer.Option(
            "--grant",
            metavar="ACCOUNT",
            help="Account or group that may read the shares (repeat it).",
        ),
    ] = None,
    grant_change: Annotated[
        list[str] | None,
        typer.Option(
            "--grant-change",
            metavar="ACCOUNT",
            help="Account or group that may also write through the shares (repeat it).",
        ),
    ] = None,
    whole_drives: Annotated[
        bool,
        typer.Option(
            "--whole-drives",
            help="Share every fixed drive instead (the original tool's way): everything on "
            "them becomes readable by the accounts granted.",
        ),
    ] = False,
    root: RootOpt = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    platform: PlatformOpt = None,
) -> None:
    r"""Share winjobs' data folders to the accounts named, read-only unless --grant-change.

    On the driver the folder of its shared_root, on each worker its shared_output_dir.
    Other machines then reach PC1's D:\winjobs as \\PC1\winjobs (see setup-remote).
    """
    system = platform or this_platform()
    grants = [Grant(a) for a in grant or []] + [Grant(a, Access.CHANGE) for a in grant_change or []]
    if whole_drives:
        if folders:
            raise InputError("give data folders or --whole-drives, not both")
        _carry_out(drive_steps(system, _drives(system), grants, root), system, yes, dry_run)
        return
    if not folders:
        raise InputError(
            r"name the data folders to share (the driver's shared_root, a worker's "
            r"shared_output_dir), e.g. winjobs links setup-local D:\winjobs --grant "
            r"CORP\winjobs-pool; --whole-drives shares whole drives instead"
        )
    here = system is this_platform()
    shared = [parse_folder(_existing(text) if here else text, system) for text in folders]
    _carry_out(folder_steps(system, shared, grants), system, yes, dry_run)


def _drives(system: Platform) -> list[LocalDisk]:
    """This machine's fixed drives, with the warning that `--whole-drives` deserves."""
    err_console.print(
        "warning: --whole-drives shares every fixed drive, with everything on it, not only "
        "winjobs' folders: prefer naming the data folders",
        markup=False,
        soft_wrap=True,
    )
    disks = fixed_disks(system) if system is this_platform() else []
    if not disks:
        err_console.print(
            f"no fixed disk found for {system.value}"
            + ("" if system is this_platform() else " (run it on that machine)"),
            markup=False,
        )
    return disks


def _existing(text: str) -> str:
    """A folder of this machine: made absolute, and refused unless it is a folder."""
    name, sep, path = text.rpartition("=") if "=" in text else ("", "", text)
    folder = Path(path).absolute()
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder of this machine: create it first")
    return f"{name}{sep}{folder}"


@links_app.command("setup-remote")
def setup_remote(
    shares: Annotated[
        list[str],
        typer.Argument(
            metavar="HOST:SHARE...",
            help=r"Shares of other machines, e.g. DRIVER:D PC1:D (\\DRIVER\D, \\PC1\D).",
            show_default=False,
        ),
    ],
    root: RootOpt = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    platform: PlatformOpt = None,
) -> None:
    r"""Link <root>\<HOST>_<SHARE> to \\HOST\SHARE for each share given.

    Run it on every machine with the same list (this machine's own shares included), so
    that a path like C:\links\PC1_D\winjobs means the same folder everywhere.
    """
    system = platform or this_platform()
    parsed = [parse_remote(text) for text in shares]
    uid = os.getuid() if hasattr(os, "getuid") else 1000
    gid = os.getgid() if hasattr(os, "getgid") else 1000
    _carry_out(remote_steps(system, parsed, root, uid=uid, gid=gid), system, yes, dry_run)
    if system is Platform.LINUX:
        _say("# the worker's config then maps the Windows paths the driver sends:")
        _say("path_map:")
        for windows, local in linux_path_map(parsed, root or DEFAULT_ROOT[system]).items():
            _say(f"  '{windows}': {local}")

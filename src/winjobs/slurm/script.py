"""The pilot job: its batch script and the worker config it runs with.

One script serves every pilot of a pool (written once at start-up, submitted as is): what
differs from pilot to pilot (its job id, node, cores, end time) the script reads from
Slurm's environment on the node. It runs

    winjobs worker --config <pilot-worker.yaml> --name <pool>-<job id>-<node>
        --cores $SLURM_CPUS_ON_NODE --data-dir <scratch>/winjobs-<name>
        --exit-when-idle --deadline <the job's end time> --drain-margin <margin>

so the pilot is an ordinary worker: it ends when a claim finds no work (its template's
`claim_wait_s`), claims nothing within `drain_margin_s` of its time limit, and its
scratch folder goes when it ends. The worker config file holds the token: it is written
readable by its owner only, in the manager's data folder, which the nodes must see.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import yaml

from winjobs.slurm.settings import PILOT_KEYS, SlurmSettings

#: The file names the manager writes in its data folder.
SCRIPT_NAME = "pilot.sbatch"
WORKER_CONFIG_NAME = "pilot-worker.yaml"


def worker_config(settings: SlurmSettings) -> dict[str, Any]:
    """The pilots' worker settings: the template, the driver URL and the token."""
    template = {k: v for k, v in settings.worker.items() if k not in PILOT_KEYS}
    return {
        **template,
        "driver_url": settings.pilot_worker_url(),
        "token": settings.token.get_secret_value(),
    }


def _under(root: str) -> str:
    """Shell text for `root/$name`, in the path style of `root` (the driver may reach
    the cluster's share as C:\\...)."""
    windows = "\\" in root or (len(root) >= 2 and root[1] == ":")
    sep = "\\" if windows else "/"
    return shlex.quote(root.rstrip(sep) + sep) + '"$name"'


def _sbatch_lines(settings: SlurmSettings) -> list[str]:
    options = [
        f"--job-name={settings.job_name}",
        "--nodes=1",
        "--ntasks=1",
        f"--cpus-per-task={settings.cores}",
        f"--time={settings.time_limit}",
        f"--output={settings.pilots_dir.resolve() / '%j.out'}",
    ]
    for key, flag in (("partition", "--partition"), ("account", "--account"), ("qos", "--qos")):
        if (value := getattr(settings, key)) is not None:
            options.append(f"{flag}={value}")
    if settings.memory is not None:
        options.append(f"--mem={settings.memory}")
    options += settings.sbatch_options
    return [f"#SBATCH {option}" for option in options]


def _shared_exports(settings: SlurmSettings) -> list[str]:
    """Shared mode: each pilot gets its own sub-folder of the shared output folder (a
    worker cleans its task folder at start-up: two pilots must not share one)."""
    if not settings.shared:
        return []
    out_dir = str(settings.worker["shared_output_dir"])
    out_root = str(settings.worker["shared_output_root"])
    return [
        f"export WINJOBS_WORKER_SHARED_OUTPUT_DIR={_under(out_dir)}",
        f"export WINJOBS_WORKER_SHARED_OUTPUT_ROOT={_under(out_root)}",
    ]


def pilot_script(settings: SlurmSettings, worker_config_path: Path) -> str:
    """The batch script every pilot of the pool runs (bash, on the node)."""
    command = " ".join(shlex.quote(part) for part in settings.worker_command)
    lines = [
        "#!/bin/bash",
        *_sbatch_lines(settings),
        f"# A winjobs pilot of the pool {settings.pool!r} (docs/slurm.md), written by",
        "# `winjobs slurm`: one worker on this allocation until the queue has no work for it",
        "# or its time limit nears.",
        f'name={shlex.quote(settings.pool)}-"$SLURM_JOB_ID"-"${{SLURMD_NODENAME:-$(hostname -s)}}"',
        f'data="{settings.scratch_dir}/winjobs-$name"',
        "# the job's end (local time, as squeue prints it): the worker stops claiming before",
        'deadline=$(squeue --noheader --jobs="$SLURM_JOB_ID" --format=%e 2>/dev/null)',
        'case "$deadline" in [0-9]*) ;; *) deadline="" ;; esac',
        *_shared_exports(settings),
        'echo "winjobs pilot $name: ${SLURM_CPUS_ON_NODE} cores, data in $data, ends at '
        '${deadline:-no limit}"',
        "# bash stays the worker's parent until it ends (Slurm finds a job's processes by",
        "# their parents) and passes a stop on: with Slurm's own signal the worker gets two,",
        "# kills its solver and hands its task back at once, before Slurm's KillWait is over",
        """trap 'kill -TERM "$worker" 2>/dev/null' TERM INT""",
        f"{command} worker --config {shlex.quote(str(worker_config_path))} \\",
        '  --name "$name" --cores "${SLURM_CPUS_ON_NODE:-1}" --data-dir "$data" \\',
        f"  --exit-when-idle --drain-margin {settings.drain_margin_s:g} \\",
        '  ${deadline:+--deadline "$deadline"} &',
        "worker=$!",
        "while :; do",
        '  wait "$worker"; status=$?',
        '  kill -0 "$worker" 2>/dev/null || break',
        "done",
        'rm -rf -- "$data"',
        'exit "$status"',
        "",
    ]
    return "\n".join(lines)


def write_pilot_files(settings: SlurmSettings) -> tuple[Path, Path]:
    """Write the worker config (owner-only: it holds the token) and the script; returns
    their paths. Both are rewritten at every start, from the settings."""
    folder = settings.data_dir.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    settings.pilots_dir.mkdir(parents=True, exist_ok=True)
    config = folder / WORKER_CONFIG_NAME
    _write_private(config, yaml.safe_dump(worker_config(settings), sort_keys=True))
    script = folder / SCRIPT_NAME
    script.write_text(pilot_script(settings, config), encoding="utf-8", newline="\n")
    return script, config


def _write_private(path: Path, text: str) -> None:
    """Write `text` to a file only its owner may read (on POSIX), created that way: the
    token is never readable by others, not even for a moment."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    tmp.replace(path)

"""A throw-away single-node Slurm cluster for the test session (the `slurm_cluster` fixture).

Debian's packages (`slurmctld`, `slurmd`, `slurm-client`, `munge`), no systemd:

- munge: a private key and socket in a root-owned folder of mode 755 (munged run as
  root refuses folders others may write to, and must not touch the machine's own
  /etc/munge or /var/lib/munge), `munged -F` in the foreground;
- a `slurm.conf` in the same temporary folder: free ports, `SlurmUser=root`,
  `proctrack/linuxproc` and `task/none` (no cgroups needed), `select/cons_tres` with
  `CR_Core` (jobs share the node by cores), the machine's CPUs and memory as node
  `localhost`, partitions `debug` (default) and `spare` (a test may switch it off);
- `slurmctld -D` and `slurmd -D -N localhost`; clients find the cluster through
  `SLURM_CONF` (there is no /etc/slurm/slurm.conf).

Jobs outlive the daemons (slurmstepd ignores SIGTERM), so `stop` first kills every job
(`scancel --full -s KILL`) and waits for the queue to empty. Finished jobs stay visible
in `squeue -t all` for `MinJobAge` seconds.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sinfo", "sbatch", "squeue", "scancel", "scontrol")
PARTITION = "debug"
SPARE_PARTITION = "spare"


class SlurmUnavailable(Exception):
    """Slurm or munge is not installed here (the tests are skipped with this reason)."""


class SlurmStartError(RuntimeError):
    """The packages are there but the cluster did not start: a failure, not a skip."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _find(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/sbin") / name) if p.is_file()), None
    )
    if found is None:
        raise SlurmUnavailable(
            f"{name} is not installed: `apt-get install slurmctld slurmd slurm-client munge` "
            "(.ci/run does it) to run the Slurm pilot tests"
        )
    return found


def _node_hardware(slurmd: str) -> tuple[int, int]:
    """CPUs and memory (MiB) as slurmd sees them (a node declared bigger is drained)."""
    out = subprocess.run([slurmd, "-C"], capture_output=True, text=True, check=False).stdout
    cpus = re.search(r"CPUs=(\d+)", out)
    memory = re.search(r"RealMemory=(\d+)", out)
    if cpus is None or memory is None:
        raise SlurmStartError(f"`slurmd -C` did not describe this machine: {out[:300]!r}")
    return int(cpus.group(1)), int(memory.group(1))


class SlurmCluster:
    """The daemons, their folder, and the environment the clients need."""

    def __init__(self) -> None:
        if os.geteuid() != 0:
            raise SlurmUnavailable("the single-node Slurm cluster of the tests runs as root")
        self.bin = {name: _find(name) for name in (*DAEMONS, *CLIENTS)}
        self.root = Path(tempfile.mkdtemp(prefix="winjobs-slurm-"))
        self.root.chmod(0o755)
        self.conf = self.root / "slurm.conf"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.cpus, self.memory_mb = _node_hardware(self.bin["slurmd"])
        self.started_in_s = 0.0

    @property
    def env(self) -> dict[str, str]:
        """Variables a Slurm client (and the pilots it submits) needs."""
        return {"SLURM_CONF": str(self.conf)}

    def client_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    # ------------------------------------------------------------------ start

    def start(self) -> None:
        started = time.monotonic()
        munge = self.root / "munge"
        munge.mkdir(mode=0o755)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        self._spawn(
            "munged",
            [
                self.bin["munged"],
                "-F",
                f"--key-file={key}",
                f"--socket={munge / 'munge.socket'}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--seed-file={munge / 'munged.seed'}",
                f"--log-file={munge / 'munged.log'}",
            ],
        )
        self._wait(lambda: (munge / "munge.socket").exists(), "munged's socket")
        self._write_conf(munge / "munge.socket")
        self._spawn("slurmctld", [self.bin["slurmctld"], "-D", "-f", str(self.conf)])
        self._spawn("slurmd", [self.bin["slurmd"], "-D", "-N", "localhost", "-f", str(self.conf)])
        self._wait(self._idle, "the node to be idle in sinfo", timeout=60)
        self.started_in_s = time.monotonic() - started

    def _write_conf(self, munge_socket: Path) -> None:
        for folder in ("state", "spool", "log"):
            (self.root / folder).mkdir()
        lines = {
            "ClusterName": "winjobstest",
            "SlurmctldHost": "localhost",
            "SlurmctldPort": _free_port(),
            "SlurmdPort": _free_port(),
            "SlurmUser": "root",
            "SlurmdUser": "root",
            "AuthType": "auth/munge",
            "AuthInfo": f"socket={munge_socket}",
            "CredType": "cred/munge",
            "StateSaveLocation": self.root / "state",
            "SlurmdSpoolDir": self.root / "spool",
            "SlurmctldPidFile": self.root / "slurmctld.pid",
            "SlurmdPidFile": self.root / "slurmd.pid",
            "SlurmctldLogFile": self.root / "log" / "slurmctld.log",
            "SlurmdLogFile": self.root / "log" / "slurmd.log",
            "ProctrackType": "proctrack/linuxproc",
            "TaskPlugin": "task/none",
            "SelectType": "select/cons_tres",
            "SelectTypeParameters": "CR_Core",
            "SchedulerType": "sched/builtin",
            "ReturnToService": 2,
            "MpiDefault": "none",
            "JobAcctGatherType": "jobacct_gather/none",
            "AccountingStorageType": "accounting_storage/none",
            "JobCompType": "jobcomp/none",
            "InactiveLimit": 0,
            "KillWait": 5,
            "MinJobAge": 300,
        }
        text = [f"{key}={value}" for key, value in lines.items()]
        text += [
            f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} "
            f"RealMemory={self.memory_mb} State=UNKNOWN",
            f"PartitionName={PARTITION} Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
            f"PartitionName={SPARE_PARTITION} Nodes=localhost MaxTime=INFINITE State=UP",
        ]
        self.conf.write_text("\n".join(text) + "\n", encoding="utf-8")

    def _spawn(self, name: str, argv: list[str]) -> None:
        log: IO[bytes]
        with (self.root / f"{name}.out").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=self.client_env()
            )

    def _idle(self) -> bool:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise SlurmStartError(f"{name} exited at start-up: {self.logs()[-1500:]}")
        state = self.run("sinfo", "--noheader", "--format=%T", check=False).stdout.split()
        return bool(state) and all(s == "idle" for s in state)

    @staticmethod
    def _wait(condition: object, what: str, timeout: float = 20) -> None:
        assert callable(condition)
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise SlurmStartError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.1)

    # ------------------------------------------------------------------ use

    def run(self, command: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A Slurm client command against this cluster."""
        return subprocess.run(
            [self.bin[command], *args],
            capture_output=True,
            text=True,
            env=self.client_env(),
            check=check,
            timeout=60,
        )

    def jobs(self, *, every: bool = False, name: str | None = None) -> list[dict[str, str]]:
        """`squeue` lines as dicts (id, state, reason, node); `every`: ended ones too."""
        args = ["--noheader", "--format=%i|%T|%r|%N|%j"]
        if every:
            args.append("--states=all")
        if name is not None:
            args.append(f"--name={name}")
        out = self.run("squeue", *args).stdout
        keys = ("id", "state", "reason", "node", "name")
        return [dict(zip(keys, line.split("|"), strict=True)) for line in out.splitlines()]

    def job(self, job_id: str) -> dict[str, str]:
        """`scontrol show job` as a dict (JobState, Reason, StartTime, EndTime, ...)."""
        out = self.run("scontrol", "show", "job", "--oneliner", job_id).stdout
        return dict(re.findall(r"(\w+)=(\S*)", out))

    def kill_all_jobs(self, timeout: float = 60) -> None:
        """Kill every job with every process it started; wait until the queue is empty."""
        ids = [job["id"] for job in self.jobs()]
        if ids:
            self.run("scancel", "--full", "--signal=KILL", *ids, check=False)
            self.run("scancel", *ids, check=False)
        self._wait(lambda: not self.jobs(), "the Slurm queue to empty", timeout)

    def logs(self) -> str:
        parts = []
        for path in sorted([*self.root.glob("*.out"), *(self.root / "log").glob("*.log")]):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    # ------------------------------------------------------------------ stop

    def stop(self) -> None:
        if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            with contextlib.suppress(Exception):
                self.kill_all_jobs()
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_cluster() -> Iterator[SlurmCluster]:
    cluster = SlurmCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()

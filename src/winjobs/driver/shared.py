"""Shared mode on the driver: study archives on the shared folder, task outputs on the
workers' shares (docs/shared-mode.md).

- Each job's study archive is also written under `shared_root/studies/<sha256>.zip`
  (content-addressed, written aside and renamed, so a worker never reads half a file);
  an assignment to a shared-mode worker carries that path as the driver sees it.
- A shared-mode worker reports the driver-side path of its run folder
  (`POST /tasks/{id}/complete-shared`). The path must lie under the shared output root the
  worker registered (a worker cannot point the driver at arbitrary folders), and the run
  is verified there exactly as an uploaded one. With `collect: link` it stays where it is
  and the merged output links its mc-ind years; with `collect: copy` it is copied into the
  driver's data folder first and the worker may delete it.
- `collect: link` needs symbolic links; on Windows creating them needs a privilege. The
  start-up check (`check_setup`) says so before any job runs into it.
"""

from __future__ import annotations

import logging
import ntpath
import os
import posixpath
import shutil
import threading
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from winjobs.antares.output import first_link
from winjobs.driver.errors import Invalid, Unavailable
from winjobs.driver.files import DataDir, remove_tree
from winjobs.driver.settings import CollectMode, DriverSettings
from winjobs.driver.store import Store
from winjobs.errors import ConfigError
from winjobs.wire import Transfer

log = logging.getLogger(__name__)

#: how long an archive found on the shared folder is trusted to still be there
_TRUSTED_FOR_S = 60.0

#: Windows' "A required privilege is not held by the client" (ERROR_PRIVILEGE_NOT_HELD).
_PRIVILEGE_NOT_HELD = 1314
SYMLINK_HELP = (
    "collect: link needs the right to create symbolic links. On Windows: turn on Developer "
    "Mode (Settings > Privacy & security > For developers), or grant the account running "
    "the driver 'Create symbolic links' (SeCreateSymbolicLinkPrivilege, secpol.msc > Local "
    "Policies > User Rights Assignment), or run the driver as administrator; or set "
    "`collect: copy` in the driver's config"
)


def symlink_problem(folder: Path) -> str | None:
    """Why a directory symbolic link cannot be made in `folder`, or None if it can."""
    probe = folder / f".symlink-probe-{uuid.uuid4().hex}"
    target = folder / f".symlink-target-{uuid.uuid4().hex}"
    target.mkdir(parents=True)
    try:
        probe.symlink_to(target, target_is_directory=True)
    except OSError as exc:
        privilege = getattr(exc, "winerror", None) == _PRIVILEGE_NOT_HELD
        detail = "a required privilege is not held" if privilege else (exc.strerror or str(exc))
        return f"cannot create a symbolic link in {folder} ({detail}): {SYMLINK_HELP}"
    finally:
        if probe.is_symlink():
            probe.unlink()
        target.rmdir()
    return None


def check_setup(settings: DriverSettings) -> None:
    """At start-up: the shared folder is writable and, with collect: link, symbolic links
    can be made. Raises ConfigError (exit status 2) with the fix."""
    if settings.transfer is not Transfer.SHARED or settings.shared_root is None:
        return
    studies = settings.shared_root / "studies"
    try:
        studies.mkdir(parents=True, exist_ok=True)
        probe = studies / f".write-probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"shared_root {settings.shared_root} cannot be written by the driver: "
            f"{exc.strerror or exc} (is the share reachable, are the links set up?)"
        ) from None
    if settings.collect is CollectMode.LINK:
        problem = symlink_problem(settings.data_dir.resolve() / "tmp")
        if problem is not None:
            raise ConfigError(problem)


def _windows_style(path: str) -> bool:
    """Paths a Windows driver sees look like `C:\\x` or `\\\\host\\share`."""
    return "\\" in path or (len(path) > 1 and path[1] == ":")


def _normal(path: str) -> str:
    if _windows_style(path):
        return ntpath.normcase(ntpath.normpath(path))
    return posixpath.normpath(path)


def is_under(path: str, root: str) -> bool:
    """`path` lies inside `root` (both as the driver sees them), with no `..` trick.

    Compared as text, never resolved: `C:\\links\\PC1_D` must keep meaning the link, and
    a worker that is off would make resolving fail.
    """
    separators = "\\/"
    if any(part == ".." for part in path.replace("\\", "/").split("/")):
        return False
    if not root.strip(separators):
        return False
    inner, outer = _normal(path), _normal(root).rstrip(separators)
    return inner.startswith(outer) and len(inner) > len(outer) and inner[len(outer)] in separators


def _refuse_escapes(run: Path, run_path: str, share: WorkerShare, driver_data: Path) -> None:
    """Refuse a run that leads out of the worker's share through a link (the run folder,
    or a folder above it inside the share, being one; or a link inside the run), or that
    lies in the driver's own data folder.

    `is_under` compares text, so that the share's own link on the driver keeps its
    meaning; here both are resolved, now that the worker has just written the run and
    its share is on. Without this, a worker could have the driver copy or merge one of
    the driver's own files (another job's output, a secret) into a job's result; and a
    worker that registered the driver's data folder as its share could report another
    job's kept run as its own."""
    assert share.output_root is not None
    try:
        real_run = run.resolve(strict=True)
        real_root = Path(share.output_root).resolve(strict=True)
        link = first_link(run)
    except OSError as exc:
        raise Unavailable(f"cannot read {run_path}: {exc.strerror or exc}") from None
    if real_run == real_root or not real_run.is_relative_to(real_root):
        raise Invalid(
            f"run_path {run_path!r} leads out of worker {share.name}'s shared output folder "
            "through a symbolic link or junction: report the run folder itself"
        )
    if real_run.is_relative_to(driver_data):
        raise Invalid(
            f"run_path {run_path!r} lies in the driver's own data folder: a worker's "
            "shared output folder must be a folder of its own"
        )
    if link is not None:
        raise Invalid(
            f"run_path {run_path!r} holds a symbolic link or junction ({link}): a solver's "
            "run has none; the driver does not follow links out of a worker's run"
        )


@dataclass(frozen=True)
class WorkerShare:
    transfer: Transfer
    output_root: str | None  #: the worker's shared output folder as the driver reaches it
    name: str


class SharedFolders:
    """The driver's side of shared mode; inert when `transfer: http`."""

    def __init__(self, settings: DriverSettings, files: DataDir, store: Store) -> None:
        self.settings = settings
        self.files = files
        self.store = store
        self.enabled = settings.transfer is Transfer.SHARED and settings.shared_root is not None
        self.root = settings.shared_root
        self.link = self.enabled and settings.collect is CollectMode.LINK
        self._workers: dict[int, WorkerShare] = {}
        self._publish_lock = threading.Lock()
        self._published: dict[str, float] = {}  #: sha256 -> when it was last found there

    # ------------------------------------------------------------------ study archives

    def archive_path(self, sha256: str) -> Path:
        assert self.root is not None
        return self.root / "studies" / f"{sha256}.zip"

    def publish_archive(self, sha256: str) -> Path:
        """The study archive on the shared folder (copied there if missing). Found there
        less than a minute ago: trusted without looking (every claim asks)."""
        target = self.archive_path(sha256)
        if self.recently_published(sha256):
            return target
        source = self.files.study_archive(sha256)
        with self._publish_lock:
            try:
                if target.is_file() and target.stat().st_size == source.stat().st_size:
                    os.utime(target)  # just used: `winjobs clean` spares it
                    self._published[sha256] = time.monotonic()
                    return target
                target.parent.mkdir(parents=True, exist_ok=True)
                aside = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
                try:
                    shutil.copyfile(source, aside)
                    aside.replace(target)
                finally:
                    aside.unlink(missing_ok=True)
                self._published[sha256] = time.monotonic()
            except OSError as exc:
                raise Unavailable(
                    f"cannot write the study archive to the shared folder {self.root}: "
                    f"{exc.strerror or exc}"
                ) from None
        return target

    def recently_published(self, sha256: str) -> bool:
        found = self._published.get(sha256)
        return found is not None and time.monotonic() - found < _TRUSTED_FOR_S

    def knows(self, worker_id: int) -> bool:
        """Whether this worker's share facts are at hand (no store lookup needed)."""
        return worker_id in self._workers

    def remove_archives(
        self, keep: Collection[str], unused_since: float | None = None
    ) -> list[Path]:
        """Drop shared archives no job refers to (start-up; `winjobs clean` passes
        `unused_since`, a timestamp: archives touched after it may belong to a
        submission not committed yet)."""
        if not self.enabled:
            return []
        folder = self.archive_path("x").parent
        if not folder.is_dir():
            return []
        removed = []
        for path in folder.iterdir():
            if unused_since is not None and path.stat().st_mtime > unused_since:
                continue
            if path.is_file() and path.name.removesuffix(".zip") not in keep:
                remove_tree(path)
                self._published.pop(path.name.removesuffix(".zip"), None)
                removed.append(path)
        return removed

    # ------------------------------------------------------------------ workers

    def remember(
        self, worker_id: int, transfer: Transfer, output_root: str | None, name: str
    ) -> None:
        self._workers[worker_id] = WorkerShare(transfer, output_root, name)

    def worker(self, worker_id: int) -> WorkerShare:
        known = self._workers.get(worker_id)
        if known is None:  # registered before this driver process started
            row = self.store.get_worker(worker_id)
            known = WorkerShare(Transfer(row.transfer), row.shared_output_root, row.name)
            self._workers[worker_id] = known
        return known

    def serves_shared(self, worker_id: int) -> bool:
        """Whether this worker gets shared-mode assignments (else HTTP ones)."""
        if not self.enabled:
            return False
        share = self.worker(worker_id)
        return share.transfer is Transfer.SHARED and bool(share.output_root)

    def check_output_root(self, name: str, output_root: str | None) -> None:
        """A registered shared output folder must lie inside one of `worker_share_roots`
        (when the driver lists some): a worker cannot offer the driver any folder it
        reads, such as someone's own Antares runs on the driver's machine."""
        allowed = self.settings.worker_share_roots
        if not allowed or output_root is None:
            return
        if not any(is_under(output_root, root) for root in allowed):
            raise Invalid(
                f"worker {name}: shared_output_root {output_root!r} is not inside the "
                f"folders this driver takes workers' shares from ({', '.join(allowed)}: "
                "its worker_share_roots); use the path under which the driver reaches "
                "this worker's share"
            )

    def run_folder(self, worker_id: int, run_path: str) -> Path:
        """Check a reported run path (bad: 422) and return it; 503 if it cannot be read."""
        if not self.enabled:
            raise Invalid("this driver runs with transfer: http: upload the output instead")
        share = self.worker(worker_id)
        if share.transfer is not Transfer.SHARED or not share.output_root:
            raise Invalid(
                f"worker {share.name} did not register a shared output folder "
                "(transfer: shared and shared_output_root in its config)"
            )
        self.check_output_root(share.name, share.output_root)  # registered before the list
        if not is_under(run_path, share.output_root):
            raise Invalid(
                f"run_path {run_path!r} is not inside worker {share.name}'s shared output "
                f"folder {share.output_root!r}"
            )
        run = Path(run_path)
        try:
            found = run.is_dir()
        except OSError as exc:
            raise Unavailable(f"cannot read {run_path}: {exc.strerror or exc}") from None
        if not found:
            raise Invalid(
                f"run_path {run_path} is not a folder the driver can read (is the share of "
                f"{share.name} reachable from the driver under that path?)"
            )
        _refuse_escapes(run, run_path, share, self.files.root)
        return run

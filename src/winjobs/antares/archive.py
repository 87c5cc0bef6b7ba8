"""Pack studies and run folders into zip files, streaming and deterministic.

Packing streams file by file (memory independent of the study size) and is deterministic
on the built-in path: entries sorted by name, fixed timestamps and permissions, so equal
content gives an equal archive and an equal sha256, the driver's cache key. (The bytes
depend on zlib's deflate output, stable for a given zlib build; 7-Zip archives carry file
modification times, so they are only as stable as the files' mtimes.)

Symbolic links are followed, never stored: the archive holds their targets' content. The
driver relies on it to zip a merged run whose `mc-ind` years are symlinks to task results.
Loops and dangling links raise ArchiveError.

7-Zip (`7z`/`7z.exe`) is used when configured and present, as the original tool did; the
built-in `zipfile` path works everywhere. Unpacking untrusted zips is `antares.unpack`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from winjobs.errors import ArchiveError

__all__ = [
    "PackResult",
    "find_sevenzip",
    "pack_folder",
    "pack_study",
    "run_sevenzip",
    "sha256_file",
]

Progress = Callable[[int, int], None]

#: Top-level study folders never sent: previous runs and solver logs.
STUDY_EXCLUDED = frozenset({"output", "logs"})
_CHUNK = 1 << 20
#: Deflate level of every archive we write (zlib's and 7-Zip's scale): 1 packs Antares
#: outputs and studies about 4x faster than zlib's default 6 for archives about 20 %
#: larger (99 MB of the example study's output: 3.4 s and 18 MB at 6, 0.8 s and 22 MB at
#: 1). Packing sits on the critical path three times per job (the study at submit, each
#: task's output on its worker, the result on the driver), where a LAN moves the extra
#: megabytes faster than level 6 could save them.
ZIP_LEVEL = 1
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_UNIX = 3
_FILE_MODE = (stat.S_IFREG | 0o644) << 16
_DIR_MODE = ((stat.S_IFDIR | 0o755) << 16) | 0x10  # 0x10: MS-DOS directory flag


@dataclass(frozen=True)
class PackResult:
    path: Path
    sha256: str
    size: int
    files: int


@dataclass(frozen=True)
class _Entry:
    arcname: str  # posix path inside the archive; directories end with '/'
    path: Path
    size: int

    @property
    def is_dir(self) -> bool:
        return self.arcname.endswith("/")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def find_sevenzip(configured: Path | str | None) -> Path | None:
    """The configured 7-Zip executable if it exists (a path, or a name on PATH), else None."""
    if configured is None or str(configured) == "":
        return None
    candidate = Path(configured)
    if candidate.is_file():
        return candidate
    found = shutil.which(str(configured))
    return Path(found) if found else None


# -- collecting the files ------------------------------------------------------------------


def _collect(root: Path, excluded_top: frozenset[str]) -> list[_Entry]:
    """Every directory and file under root, sorted by archive name, links followed."""
    if not root.is_dir():
        raise ArchiveError(f"{root} is not a folder")
    entries: list[_Entry] = []
    _walk(root, "", excluded_top, entries, ancestors={_identity(root)})
    entries.sort(key=lambda entry: entry.arcname)
    return entries


def _identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino


def _walk(
    folder: Path,
    prefix: str,
    excluded_top: frozenset[str],
    entries: list[_Entry],
    ancestors: set[tuple[int, int]],
) -> None:
    with os.scandir(folder) as scan:
        children = sorted(scan, key=lambda child: child.name)
    for child in children:
        if not prefix and child.name.lower() in excluded_top:
            continue
        path = Path(child.path)
        arcname = prefix + child.name
        try:
            info = path.stat()  # follows links
        except OSError as exc:
            raise ArchiveError(f"cannot read {path}: dangling link or {exc.strerror}") from exc
        if stat.S_ISDIR(info.st_mode):
            identity = (info.st_dev, info.st_ino)
            if identity in ancestors:
                raise ArchiveError(f"symbolic link loop at {path}")
            entries.append(_Entry(arcname + "/", path, 0))
            _walk(path, arcname + "/", excluded_top, entries, ancestors | {identity})
        elif stat.S_ISREG(info.st_mode):
            entries.append(_Entry(arcname, path, info.st_size))
        else:
            raise ArchiveError(f"{path} is neither a file nor a folder; cannot pack it")


# -- packing -------------------------------------------------------------------------------


class _HashingWriter:
    """Write-only, non-seekable sink: zipfile then streams (data descriptors) and we hash
    the archive as it is written, in the same single pass."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._digest = hashlib.sha256()
        self._position = 0

    def write(self, data: bytes) -> int:
        self._handle.write(data)
        self._digest.update(data)
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        self._handle.flush()

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def _zip_info(entry: _Entry) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(entry.arcname, date_time=_FIXED_DATE)
    info.create_system = _UNIX
    if entry.is_dir:
        info.external_attr = _DIR_MODE
        info.compress_type = zipfile.ZIP_STORED
    else:
        info.external_attr = _FILE_MODE
        info.compress_type = zipfile.ZIP_DEFLATED
        # ZipFile(compresslevel=) reaches only entries it names itself; ours carry theirs
        # (`compress_level` from Python 3.13, which keeps this older name as an alias)
        info._compresslevel = ZIP_LEVEL  # type: ignore[attr-defined]
        info.file_size = entry.size
    return info


def _write_zip(entries: list[_Entry], target: Path, progress: Progress | None) -> str:
    total = sum(entry.size for entry in entries)
    done = 0
    if progress:
        progress(0, total)
    with target.open("wb") as raw:
        writer = _HashingWriter(raw)
        with zipfile.ZipFile(writer, "w", allowZip64=True) as archive:  # type: ignore[call-overload]
            for entry in entries:
                info = _zip_info(entry)
                if entry.is_dir:
                    archive.writestr(info, b"")
                    continue
                with entry.path.open("rb") as source, archive.open(info, "w") as sink:
                    while chunk := source.read(_CHUNK):
                        sink.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
        return writer.hexdigest()


def run_sevenzip(args: list[str], cwd: Path | None = None) -> None:
    try:
        result = subprocess.run(args, cwd=cwd, capture_output=True, check=False)
    except OSError as exc:
        raise ArchiveError(f"cannot run 7-Zip ({args[0]}): {exc}") from exc
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).decode("utf-8", "replace").strip()[-500:]
        raise ArchiveError(f"7-Zip failed with exit status {result.returncode}: {tail}")


def _sevenzip_pack(
    sevenzip: Path, root: Path, entries: list[_Entry], target: Path, progress: Progress | None
) -> str:
    """Pack with 7-Zip: files plus empty folders listed explicitly (excluded ones are not)."""
    total = sum(entry.size for entry in entries)
    if progress:
        progress(0, total)
    parents = {str(PurePosixPath(entry.arcname).parent) for entry in entries}
    names = [
        entry.arcname.rstrip("/")
        for entry in entries
        if not entry.is_dir or entry.arcname.rstrip("/") not in parents
    ]
    fd, list_name = tempfile.mkstemp(prefix=".winjobs-7z-", suffix=".txt", dir=target.parent)
    list_file = Path(list_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write("".join(str(Path(name)) + "\n" for name in names))
        args = [
            str(sevenzip),
            "a",
            "-tzip",
            f"-mx={ZIP_LEVEL}",
            "-bd",
            "-y",
            "-scsUTF-8",
            str(target),
        ]
        run_sevenzip([*args, f"@{list_file}"], cwd=root)
    finally:
        list_file.unlink(missing_ok=True)
    if progress:
        progress(total, total)
    return sha256_file(target)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _pack(
    root: Path,
    dest: Path,
    entries: list[_Entry],
    progress: Progress | None,
    sevenzip: Path | None,
) -> PackResult:
    dest = Path(dest)
    if dest.exists():  # a previous archive written inside the folder is not content
        entries = [entry for entry in entries if not _same_file(entry.path, dest)]
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if sevenzip is not None:
            tmp.unlink()  # 7-Zip would add to an existing file
            digest = _sevenzip_pack(sevenzip, root, entries, tmp, progress)
        else:
            digest = _write_zip(entries, tmp, progress)
        size = tmp.stat().st_size
        tmp.replace(dest)
    except OSError as exc:
        raise ArchiveError(f"cannot pack {root} into {dest}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    files = sum(1 for entry in entries if not entry.is_dir)
    return PackResult(path=dest, sha256=digest, size=size, files=files)


def pack_study(
    study_dir: Path,
    dest: Path,
    *,
    progress: Progress | None = None,
    sevenzip: Path | None = None,
) -> PackResult:
    """Zip a study without its `output/` and `logs/` folders into `dest` (written atomically).

    `progress(done_bytes, total_bytes)` is called as file content is read. `sevenzip` is the
    configured 7-Zip executable: used when it exists and the study holds no symbolic link
    (7-Zip would store the link itself); otherwise the built-in deterministic path runs.
    """
    root = Path(study_dir)
    entries = _collect(root, STUDY_EXCLUDED)
    tool = find_sevenzip(sevenzip)
    if tool is not None and any(entry.path.is_symlink() for entry in entries):
        tool = None
    return _pack(root, dest, entries, progress, tool)


def pack_folder(
    folder: Path,
    dest: Path,
    *,
    arcname_root: str | None = None,
    progress: Progress | None = None,
) -> PackResult:
    """Zip a whole folder (a run folder for upload or download), links followed.

    With `arcname_root`, every entry sits under that folder name inside the archive.
    Always the built-in path: its output is deterministic.
    """
    root = Path(folder)
    entries = _collect(root, frozenset())
    if arcname_root:
        prefix = arcname_root.strip("/") + "/"
        entries = [_Entry(prefix, root, 0)] + [
            _Entry(prefix + entry.arcname, entry.path, entry.size) for entry in entries
        ]
    return _pack(root, dest, entries, progress, None)

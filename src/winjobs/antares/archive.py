"""Pack studies and run folders into zip files, and unpack untrusted zips safely.

Packing streams file by file (memory independent of the study size) and is deterministic
on the built-in path: entries sorted by name, fixed timestamps and permissions, so equal
content gives an equal archive and an equal sha256, the driver's cache key. (The bytes
depend on zlib's deflate output, stable for a given zlib build; 7-Zip archives carry file
modification times, so they are only as stable as the files' mtimes.)

Symbolic links are followed, never stored: the archive holds their targets' content. The
driver relies on it to zip a merged run whose `mc-ind` years are symlinks to task results.
Loops and dangling links raise ArchiveError.

Unpacking treats the zip as hostile: absolute names, drive letters, `..`, names Windows
cannot hold, symlink or device entries, encrypted entries, duplicates, too many entries,
too many bytes or too high a compression ratio (zip bombs), truncated or corrupt data all
raise ArchiveError. Everything is extracted into a temporary sibling folder renamed to
`dest` only at the end, so a failure leaves nothing behind.

7-Zip (`7z`/`7z.exe`) is used when configured and present, as the original tool did; the
checks above run on the zip's directory before 7-Zip extracts, and on the extracted tree
after. The built-in `zipfile` path works everywhere.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import struct
import subprocess
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from winjobs.errors import ArchiveError

__all__ = [
    "PackResult",
    "UnpackLimits",
    "find_sevenzip",
    "pack_folder",
    "pack_study",
    "sha256_file",
    "unpack_archive",
]

Progress = Callable[[int, int], None]

#: Top-level study folders never sent: previous runs and solver logs.
STUDY_EXCLUDED = frozenset({"output", "logs"})
_CHUNK = 1 << 20
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_UNIX = 3
_FILE_MODE = (stat.S_IFREG | 0o644) << 16
_DIR_MODE = ((stat.S_IFDIR | 0o755) << 16) | 0x10  # 0x10: MS-DOS directory flag
_WINDOWS_RESERVED = re.compile(r"(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?", re.IGNORECASE)
_WINDOWS_FORBIDDEN = set('<>:"|?*') | {chr(code) for code in range(32)}


@dataclass(frozen=True)
class PackResult:
    path: Path
    sha256: str
    size: int
    files: int


@dataclass(frozen=True)
class UnpackLimits:
    """Bounds an archive must respect to be unpacked (zip-bomb guards).

    `max_ratio` bounds total uncompressed bytes / archive size: real studies (text time
    series, many all-zero) stay far below 200.
    """

    max_total_bytes: int = 20 * 2**30
    max_ratio: float = 200.0
    max_files: int = 200_000


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


def _run_sevenzip(args: list[str], cwd: Path | None = None) -> None:
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
        args = [str(sevenzip), "a", "-tzip", "-mx=5", "-bd", "-y", "-scsUTF-8", str(target)]
        _run_sevenzip([*args, f"@{list_file}"], cwd=root)
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


# -- unpacking -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Planned:
    info: zipfile.ZipInfo
    parts: tuple[str, ...]
    is_dir: bool


def _declared_entry_count(archive: Path) -> int:
    """Entry count from the end-of-central-directory record, read BEFORE zipfile builds an
    object per entry (a crafted directory of millions of entries would exhaust memory)."""
    size = archive.stat().st_size
    with archive.open("rb") as handle:
        tail_size = min(size, 22 + 65535)
        handle.seek(size - tail_size)
        tail = handle.read(tail_size)
        at = tail.rfind(b"PK\x05\x06")
        if at == -1 or len(tail) - at < 22:
            raise ArchiveError(f"{archive.name} is not a zip file or is truncated")
        count = struct.unpack("<H", tail[at + 10 : at + 12])[0]
        if count != 0xFFFF or at < 20 or tail[at - 20 : at - 16] != b"PK\x06\x07":
            return int(count)
        zip64_offset = struct.unpack("<Q", tail[at - 12 : at - 4])[0]
        handle.seek(zip64_offset)
        record = handle.read(56)
        if len(record) < 56 or record[:4] != b"PK\x06\x06":
            raise ArchiveError(f"{archive.name}: corrupt zip64 directory")
        return int(struct.unpack("<Q", record[32:40])[0])


def _safe_parts(name: str) -> tuple[str, ...]:
    """The path components of an entry name, or ArchiveError if it could escape or cannot
    exist on Windows."""
    clean = name.replace("\\", "/")
    if clean.startswith("/"):
        raise ArchiveError(f"unsafe entry {name!r}: absolute path")
    if re.match(r"[A-Za-z]:", clean):
        raise ArchiveError(f"unsafe entry {name!r}: drive letter")
    parts = tuple(part for part in clean.split("/") if part not in ("", "."))
    if not parts:
        raise ArchiveError(f"unsafe entry {name!r}: empty name")
    for part in parts:
        if part == "..":
            raise ArchiveError(f"unsafe entry {name!r}: '..' leads outside the folder")
        if any(ch in _WINDOWS_FORBIDDEN for ch in part) or part[-1] in " .":
            raise ArchiveError(f"unsafe entry {name!r}: not a valid Windows file name")
        if _WINDOWS_RESERVED.fullmatch(part):
            raise ArchiveError(f"unsafe entry {name!r}: reserved Windows device name")
    return parts


def _entry_kind(info: zipfile.ZipInfo) -> str:
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        raise ArchiveError(f"unsafe entry {info.filename!r}: symbolic link")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise ArchiveError(f"unsafe entry {info.filename!r}: special file")
    if info.flag_bits & 0x1:
        raise ArchiveError(f"entry {info.filename!r} is encrypted")
    return "dir" if info.is_dir() or kind == stat.S_IFDIR else "file"


def _plan(archive: zipfile.ZipFile, archive_size: int, limits: UnpackLimits) -> list[_Planned]:
    infos = archive.infolist()
    if len(infos) > limits.max_files:
        raise ArchiveError(f"too many entries: {len(infos)} > {limits.max_files}")
    planned: list[_Planned] = []
    files: set[str] = set()
    folders: set[str] = set()
    total = 0
    for info in infos:
        parts = _safe_parts(info.filename)
        is_dir = _entry_kind(info) == "dir"
        key = "/".join(parts).casefold()  # Windows folds case: a/B and a/b collide
        prefixes = {"/".join(parts[:n]).casefold() for n in range(1, len(parts))}
        if key in files or (not is_dir and key in folders) or prefixes & files:
            raise ArchiveError(f"entry {info.filename!r} collides with another entry")
        (folders if is_dir else files).add(key)
        folders |= prefixes
        total += 0 if is_dir else info.file_size
        planned.append(_Planned(info, parts, is_dir))
    _check_bomb(total, archive_size, limits)
    return planned


def _check_bomb(total: int, archive_size: int, limits: UnpackLimits) -> None:
    if total > limits.max_total_bytes:
        raise ArchiveError(
            f"archive expands to {total} bytes, over the limit of {limits.max_total_bytes}"
        )
    ratio = total / max(archive_size, 1)
    if ratio > limits.max_ratio:
        raise ArchiveError(
            f"compression ratio {ratio:.0f} exceeds {limits.max_ratio:.0f} (zip bomb?)"
        )


def _extract(archive: zipfile.ZipFile, plan: list[_Planned], root: Path, limit: int) -> None:
    written = 0
    for item in plan:
        target = root.joinpath(*item.parts)
        if item.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(item.info) as source, target.open("xb") as sink:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > limit:
                    raise ArchiveError(f"archive expands beyond {limit} bytes")
                sink.write(chunk)


def _walk_tree(root: Path) -> Iterator[Path]:
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            yield Path(folder) / name


def _verify_tree(root: Path, plan: list[_Planned], limits: UnpackLimits) -> None:
    """After 7-Zip: the tree holds exactly the planned entries, no link, within limits."""
    expected = {"/".join(item.parts) for item in plan}
    expected |= {"/".join(item.parts[:n]) for item in plan for n in range(1, len(item.parts))}
    total = 0
    for path in _walk_tree(root):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            raise ArchiveError(f"unsafe entry {relative!r}: symbolic link")
        if relative not in expected:
            raise ArchiveError(f"7-Zip extracted an unexpected entry {relative!r}")
        if path.is_file():
            total += path.stat().st_size
    if total > limits.max_total_bytes:
        raise ArchiveError(f"archive expands beyond {limits.max_total_bytes} bytes")


def unpack_archive(
    archive: Path,
    dest: Path,
    *,
    limits: UnpackLimits = UnpackLimits(),
    sevenzip: Path | None = None,
) -> None:
    """Unpack an untrusted zip into `dest`, which must not exist; all or nothing."""
    archive, dest = Path(archive), Path(dest)
    if dest.exists() or dest.is_symlink():
        raise ArchiveError(f"{dest} already exists; unpack into a new folder")
    try:
        archive_size = archive.stat().st_size
    except OSError as exc:
        raise ArchiveError(f"cannot read {archive}: {exc.strerror or exc}") from exc
    try:
        count = _declared_entry_count(archive)
    except OSError as exc:
        raise ArchiveError(f"cannot read {archive}: {exc.strerror or exc}") from exc
    if count > limits.max_files:
        raise ArchiveError(f"too many entries: {count} > {limits.max_files}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".unpacking", dir=dest.parent))
    try:
        with zipfile.ZipFile(archive) as opened:
            plan = _plan(opened, archive_size, limits)
            tool = find_sevenzip(sevenzip)
            if tool is None:
                _extract(opened, plan, tmp, limits.max_total_bytes)
        if tool is not None:
            _run_sevenzip([str(tool), "x", "-tzip", "-y", "-bd", f"-o{tmp}", str(archive)])
            _verify_tree(tmp, plan, limits)
        tmp.rename(dest)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ArchiveError(f"{archive.name} is damaged or unsupported: {exc}") from exc
    except OSError as exc:
        raise ArchiveError(f"cannot unpack {archive.name} into {dest}: {exc}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)

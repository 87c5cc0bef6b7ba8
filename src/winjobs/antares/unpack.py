"""Unpack untrusted zips (study archives, task outputs, results) safely: all or nothing.

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

import os
import re
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from winjobs.antares.archive import find_sevenzip, run_sevenzip
from winjobs.antares.zipstream import StreamedEntry
from winjobs.errors import ArchiveError

__all__ = ["UnpackLimits", "check_archive", "safe_parts", "unpack_archive"]

_CHUNK = 1 << 20

_WINDOWS_RESERVED = re.compile(r"(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?", re.IGNORECASE)
_WINDOWS_FORBIDDEN = frozenset('<>:"|?*') | {chr(code) for code in range(32)}
_DRIVE = re.compile(r"[A-Za-z]:")


@dataclass(frozen=True)
class UnpackLimits:
    """Bounds an archive must respect to be unpacked (zip-bomb guards).

    `max_ratio` bounds total uncompressed bytes / archive size: real studies (text time
    series, many all-zero) stay far below 200.
    """

    max_total_bytes: int = 20 * 2**30
    max_ratio: float = 200.0
    max_files: int = 200_000


# -- planning -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Planned:
    info: zipfile.ZipInfo
    parts: tuple[str, ...]
    is_dir: bool


def _declared_entry_count(handle: BinaryIO, size: int, label: str) -> int:
    """Entry count from the end-of-central-directory record, read BEFORE zipfile builds an
    object per entry (a crafted directory of millions of entries would exhaust memory)."""
    tail_size = min(size, 22 + 65535)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at == -1 or len(tail) - at < 22:
        raise ArchiveError(f"{label} is not a zip file or is truncated")
    count = struct.unpack("<H", tail[at + 10 : at + 12])[0]
    if count != 0xFFFF or at < 20 or tail[at - 20 : at - 16] != b"PK\x06\x07":
        return int(count)
    zip64_offset = struct.unpack("<Q", tail[at - 12 : at - 4])[0]
    handle.seek(zip64_offset)
    record = handle.read(56)
    if len(record) < 56 or record[:4] != b"PK\x06\x06":
        raise ArchiveError(f"{label}: corrupt zip64 directory")
    return int(struct.unpack("<Q", record[32:40])[0])


def safe_parts(name: str) -> tuple[str, ...]:
    """The path components of an entry name, or ArchiveError if it could escape or cannot
    exist on Windows."""
    clean = name.replace("\\", "/")
    if clean.startswith("/"):
        raise ArchiveError(f"unsafe entry {name!r}: absolute path")
    if _DRIVE.match(clean):
        raise ArchiveError(f"unsafe entry {name!r}: drive letter")
    parts = tuple(part for part in clean.split("/") if part not in ("", "."))
    if not parts:
        raise ArchiveError(f"unsafe entry {name!r}: empty name")
    for part in parts:
        if part == "..":
            raise ArchiveError(f"unsafe entry {name!r}: '..' leads outside the folder")
        if not _WINDOWS_FORBIDDEN.isdisjoint(part) or part[-1] in " .":
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
        parts = safe_parts(info.filename)
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
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(item.info) as source, target.open("xb") as sink:
                while chunk := source.read(_CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise ArchiveError(f"archive expands beyond {limit} bytes")
                    sink.write(chunk)
        except OSError as exc:  # said of the entry: the folder it goes to is ours, not theirs
            raise ArchiveError(
                f"cannot unpack entry {item.info.filename!r}: {exc.strerror or exc}"
            ) from exc


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


def _not_utf8(label: str, exc: UnicodeDecodeError) -> ArchiveError:
    """zipfile decodes the names flagged UTF-8 when it opens the zip: one that is not."""
    return ArchiveError(
        f"{label} has an entry name that is not valid UTF-8 although the zip marks it so "
        f"({exc.object[:60]!r}): pack it again with a standard zip tool"
    )


def unpack_archive(
    archive: Path,
    dest: Path,
    *,
    limits: UnpackLimits = UnpackLimits(),
    sevenzip: Path | None = None,
    label: str | None = None,
) -> None:
    """Unpack an untrusted zip into `dest`, which must not exist; all or nothing.

    `label` is how messages name the archive (default: its file name): a service that
    unpacks uploads under names of its own says "the uploaded zip". Messages never name
    `dest`, only the archive and its entries, so they speak of what the sender sent.
    """
    archive, dest = Path(archive), Path(dest)
    label = label or archive.name
    if dest.exists() or dest.is_symlink():
        raise ArchiveError(f"{dest} already exists; unpack into a new folder")
    try:
        archive_size = archive.stat().st_size
        with archive.open("rb") as handle:
            count = _declared_entry_count(handle, archive_size, label)
    except OSError as exc:
        raise ArchiveError(f"cannot read {label}: {exc.strerror or exc}") from exc
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
            run_sevenzip([str(tool), "x", "-tzip", "-y", "-bd", f"-o{tmp}", str(archive)])
            _verify_tree(tmp, plan, limits)
        tmp.rename(dest)
    except UnicodeDecodeError as exc:
        raise _not_utf8(label, exc) from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ArchiveError(f"{label} is damaged or unsupported: {exc}") from exc
    except OSError as exc:
        raise ArchiveError(f"cannot unpack {label}: {exc.strerror or exc}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _streamed(
    info: zipfile.ZipInfo, streamed: Mapping[int, StreamedEntry] | None
) -> StreamedEntry | None:
    """The streamed check of this entry, if it is the very entry the directory names."""
    entry = streamed.get(info.header_offset) if streamed else None
    if entry is None:
        return None
    same = (
        entry.name == info.orig_filename
        and entry.method == info.compress_type
        and entry.crc == info.CRC
        and entry.compressed == info.compress_size
        and entry.size == info.file_size
    )
    return entry if same else None


def check_archive(
    handle: BinaryIO,
    size: int,
    label: str,
    *,
    limits: UnpackLimits = UnpackLimits(),
    kept: dict[str, bytes] | None = None,
    keep_up_to: int = 64 * 1024,
    streamed: Mapping[int, StreamedEntry] | None = None,
) -> zipfile.ZipFile:
    """Check an untrusted zip as `unpack_archive` would, without writing anything: the
    same guards, and every entry read to its end (its CRC checked). Returns the zip,
    open on `handle`, for reading what it holds (`label` names it in messages); with
    `kept`, the content of its entries of up to `keep_up_to` bytes is put there (by
    entry name), so that what is read next needs no second inflate.

    `streamed`: entries already checked as the zip arrived (`zipstream.ZipStreamCheck`,
    by local header offset); one the central directory describes exactly is not read
    again (its content, if kept there, is taken from it).

    How the driver keeps task outputs zipped: checked here once, unpacked only when the
    job's output is assembled."""
    try:
        if _declared_entry_count(handle, size, label) > limits.max_files:
            raise ArchiveError(f"too many entries: over {limits.max_files}")
        handle.seek(0)
        opened = zipfile.ZipFile(handle)
        plan = _plan(opened, size, limits)
        read = 0
        for item in plan:
            if item.is_dir:
                continue
            checked = _streamed(item.info, streamed)
            wanted = kept is not None and item.info.file_size <= keep_up_to
            if checked is not None and (not wanted or checked.content is not None):
                read += checked.size  # checked as it arrived: not read again
                if kept is not None and checked.content is not None and wanted:
                    kept[item.info.filename] = checked.content
            elif kept is not None and wanted:
                data = opened.read(item.info)
                read += len(data)
                kept[item.info.filename] = data
            else:
                with opened.open(item.info) as source:
                    while chunk := source.read(_CHUNK):
                        read += len(chunk)
                        if read > limits.max_total_bytes:
                            break
            if read > limits.max_total_bytes:
                raise ArchiveError(f"archive expands beyond {limits.max_total_bytes} bytes")
        return opened
    except UnicodeDecodeError as exc:
        raise _not_utf8(label, exc) from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ArchiveError(f"{label} is damaged or unsupported: {exc}") from exc
    except OSError as exc:
        raise ArchiveError(f"cannot read {label}: {exc}") from exc

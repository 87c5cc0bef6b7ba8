"""Entries of a zip checked while it arrives: what the stream proves right is not read
again, and anything it cannot follow or finds wrong is left to the full check."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from winjobs.antares.archive import pack_folder
from winjobs.antares.unpack import UnpackLimits, check_archive
from winjobs.antares.zipstream import StreamedEntry, ZipStreamCheck
from winjobs.errors import ArchiveError

LIMITS = UnpackLimits(max_total_bytes=10**9, max_ratio=1000)


def _zip(big: int = 300_000) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("run/", b"")
        archive.writestr("run/info.antares-output", b"[general]\nversion = 880\n" * 3)
        archive.writestr("run/économie/values.txt", b"1\t2\t3\n" * 5000, zipfile.ZIP_DEFLATED)
        archive.writestr("run/empty.txt", b"", zipfile.ZIP_DEFLATED)
        archive.writestr("run/values.bin", os.urandom(big), zipfile.ZIP_STORED)
    return buffer.getvalue()


def _streamed(data: bytes, piece: int, keep_up_to: int = 64 * 1024) -> ZipStreamCheck:
    check = ZipStreamCheck(keep_up_to)
    for at in range(0, len(data), piece):
        check.feed(data[at : at + piece])
    return check


class _CountingReader(io.BytesIO):
    """A handle that counts the bytes read through it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


@pytest.mark.parametrize("piece", [1, 7, 4096, 10**9])
def test_every_entry_is_checked_however_the_bytes_arrive(piece: int) -> None:
    data = _zip(big=20_000) if piece == 1 else _zip()
    check = _streamed(data, piece)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        assert set(check.entries) == {info.header_offset for info in infos}
        for info in infos:
            entry = check.entries[info.header_offset]
            assert (entry.name, entry.crc, entry.size) == (info.filename, info.CRC, info.file_size)
            small = info.file_size <= 64 * 1024
            assert entry.content == (archive.read(info) if small else None)
    assert check.stopped  # at the central directory


def test_the_full_check_does_not_read_streamed_entries_again() -> None:
    data = _zip(big=2_000_000)
    check = _streamed(data, 65536)
    by_stream, by_reading = {}, {}
    handle = _CountingReader(data)
    with check_archive(
        handle, len(data), "z", limits=LIMITS, kept=by_stream, streamed=check.entries
    ):
        pass
    assert handle.bytes_read < 100_000  # the directory, not the 2 MB entry
    with check_archive(io.BytesIO(data), len(data), "z", limits=LIMITS, kept=by_reading):
        pass
    assert by_stream == by_reading and "run/info.antares-output" in by_stream


def test_an_entry_the_directory_describes_otherwise_is_read_again() -> None:
    data = _zip(big=2_000_000)
    check = _streamed(data, 65536)
    entries = {
        offset: entry._replace(crc=entry.crc ^ 1) if entry.size > 1_000_000 else entry
        for offset, entry in check.entries.items()
    }
    handle = _CountingReader(data)
    with check_archive(handle, len(data), "z", limits=LIMITS, kept={}, streamed=entries):
        pass
    assert handle.bytes_read > 2_000_000


def test_damaged_data_stops_the_stream_and_the_full_check_refuses_it() -> None:
    data = bytearray(_zip())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("run/values.bin")
    at = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 1000
    data[at] ^= 0xFF
    check = _streamed(bytes(data), 4096)
    assert check.stopped and info.header_offset not in check.entries
    with pytest.raises(ArchiveError, match="damaged"):
        check_archive(
            io.BytesIO(bytes(data)), len(data), "z", limits=LIMITS, streamed=check.entries
        )


def test_an_entry_inflating_past_its_declared_size_is_not_proved() -> None:
    """A deflated entry whose local header understates its size (a zip bomb's trick):
    the stream stops at the declared size + 1 byte and proves nothing. The full check
    goes by the central directory, which is right here: it reads the entry itself."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("run/zeros.txt", b"0" * 1_000_000)
    data = bytearray(buffer.getvalue())
    size_at = 22  # the local header's uncompressed size
    data[size_at : size_at + 4] = (1000).to_bytes(4, "little")
    check = _streamed(bytes(data), 4096)
    assert check.stopped and check.entries == {}
    handle = _CountingReader(bytes(data))
    with check_archive(handle, len(data), "z", limits=LIMITS, streamed=check.entries):
        pass
    assert handle.bytes_read >= len(data)


class _Unseekable(io.RawIOBase):
    """Where `zipfile` writes as a stream: each entry's CRC and sizes in a data
    descriptor after its data (as the worker packs, hashing in the same pass)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, chunk: bytes) -> int:  # type: ignore[override]
        self.data += chunk
        return len(chunk)


def _streamed_zip(entries: dict[str, tuple[bytes, int]]) -> bytes:
    sink = _Unseekable()
    with zipfile.ZipFile(sink, "w") as archive:
        for name, (content, method) in entries.items():
            archive.writestr(name, content, method)
    return bytes(sink.data)


@pytest.mark.parametrize("piece", [1, 5, 4096, 10**9])
def test_deflated_entries_with_their_sizes_after_the_data_are_checked(piece: int) -> None:
    """The deflate stream's end says where the data ends; the descriptor after it must
    then agree with what was read."""
    data = _streamed_zip(
        {
            "run/": (b"", zipfile.ZIP_STORED),
            "run/a.txt": (b"a" * 1000, zipfile.ZIP_DEFLATED),
            "run/empty.txt": (b"", zipfile.ZIP_DEFLATED),
            "run/b.bin": (os.urandom(300_000), zipfile.ZIP_DEFLATED),
        }
    )
    check = _streamed(data, piece)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        assert all(info.flag_bits & 0x8 for info in infos)
        assert set(check.entries) == {info.header_offset for info in infos}
        for info in infos:
            entry = check.entries[info.header_offset]
            small = info.file_size <= 64 * 1024
            assert (entry.crc, entry.compressed, entry.size, entry.content) == (
                info.CRC,
                info.compress_size,
                info.file_size,
                archive.read(info) if small else None,
            )
    handle = _CountingReader(data)
    with check_archive(handle, len(data), "z", limits=LIMITS, kept={}, streamed=check.entries):
        pass
    assert handle.bytes_read < 150_000  # the zip's tail and directory, not the entries


def test_a_stored_entry_with_its_size_after_the_data_is_left_to_the_full_check() -> None:
    data = _streamed_zip({"run/a.txt": (b"a" * 1000, zipfile.ZIP_STORED)})
    check = _streamed(data, 512)
    assert check.stopped and check.entries == {}
    kept: dict[str, bytes] = {}
    with check_archive(io.BytesIO(data), len(data), "z", limits=LIMITS, kept=kept, streamed={}):
        pass
    assert kept == {"run/a.txt": b"a" * 1000}


def test_a_descriptor_that_disagrees_with_the_data_proves_nothing() -> None:
    data = bytearray(_streamed_zip({"run/a.txt": (b"a" * 1000, zipfile.ZIP_DEFLATED)}))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("run/a.txt")
    descriptor = info.header_offset + 30 + len(info.filename) + info.compress_size
    assert data[descriptor : descriptor + 4] == b"PK\x07\x08"
    data[descriptor + 4] ^= 0xFF  # its CRC
    check = _streamed(bytes(data), 100)
    assert check.stopped and check.entries == {}


def test_the_worker_s_own_zips_are_checked_as_they_arrive(tmp_path: Path) -> None:
    run = tmp_path / "20261125-0824eco-x"
    (run / "economy" / "mc-ind" / "00001").mkdir(parents=True)
    (run / "economy" / "mc-ind" / "00001" / "values.txt").write_bytes(b"1\t2\n" * 50_000)
    (run / "info.antares-output").write_bytes(b"[general]\nversion = 880\n")
    packed = pack_folder(run, tmp_path / "run.zip", arcname_root=run.name).path.read_bytes()
    check = _streamed(packed, 65536)
    with zipfile.ZipFile(io.BytesIO(packed)) as archive:
        assert set(check.entries) == {info.header_offset for info in archive.infolist()}


def test_a_streamed_entry_records_what_its_header_declared() -> None:
    data = _zip(big=10)
    entry = next(e for e in _streamed(data, 100).entries.values() if e.name == "run/values.bin")
    assert entry == StreamedEntry("run/values.bin", 0, entry.crc, 10, 10, entry.content)
    assert entry.content is not None and len(entry.content) == 10

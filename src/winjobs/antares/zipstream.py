"""Checking a zip's entries while it is still arriving.

A task output of a real study is hundreds of MB zipped; the driver checks every entry's
CRC before it accepts it (`unpack.check_archive`). Done after the upload, that read-back
(and the inflate of deflated entries) is time the worker waits for its answer, while the
driver sat idle during the transfer. `ZipStreamCheck` takes the bytes in the order they
arrive and checks each entry as its data goes by: its local header says how it is
stored and, unless the zip was written as a stream, its CRC and sizes. The worker packs
as a stream (it hashes the zip in the same pass): its entries are deflated, and the
CRC and sizes come in a data descriptor after the data, which the deflate stream's own
end locates.

It only ever proves entries right; it never refuses anything. An entry it cannot follow
(encrypted, stored with its size after the data, a method other than stored or
deflated) or one whose bytes do not match what it declares ends the streaming check
there: that entry and those after it are left to `check_archive`, which reads them as
before and says what is wrong. `check_archive` trusts a streamed entry only if the
zip's central directory (what every later reader goes by) describes exactly the entry
that was checked: the same local header offset, name, method, CRC and sizes.
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_DESCRIPTOR_SIGNATURE = b"PK\x07\x08"
_STORED, _DEFLATED = 0, 8
_ENCRYPTED, _DATA_DESCRIPTOR, _UTF8_NAME = 0x1, 0x8, 0x800
_ZIP64_EXTRA = 0x0001
_ZIP64_SIZE = 0xFFFFFFFF
_INFLATE_STEP = 1 << 20  #: output per inflate call: a bomb never sits in memory at once


class StreamedEntry(NamedTuple):
    """An entry whose data matched what it declared: its CRC and sizes."""

    name: str  #: as `zipfile` decodes it (UTF-8 when flagged, else cp437)
    method: int
    crc: int
    compressed: int
    size: int
    content: bytes | None  #: the inflated bytes, when no larger than `keep_up_to`


class _Entry:
    """The entry being read: what its header declared, and its data's CRC and length
    as they go."""

    def __init__(self, offset: int, name: str, fields: tuple[int, ...], zip64: bool) -> None:
        _, _, flags, method, _, _, crc, compressed, size, _, _ = fields
        self.offset, self.name, self.method = offset, name, method
        self.described = bool(flags & _DATA_DESCRIPTOR)  #: CRC and sizes after the data
        self.zip64 = zip64
        self.crc, self.compressed, self.size = crc, compressed, size
        self.left = compressed  #: compressed bytes still to come (sizes known)
        self.fed = 0  #: compressed bytes taken
        self.running_crc = 0
        self.produced = 0
        self.inflate = zlib.decompressobj(-15) if method == _DEFLATED else None
        self.kept: list[bytes] | None = []

    def output(self, out: bytes | memoryview, keep_up_to: int) -> None:
        self.produced += len(out)
        self.running_crc = zlib.crc32(out, self.running_crc)
        if self.kept is not None:
            if self.produced > keep_up_to:
                self.kept = None
            else:
                self.kept.append(bytes(out))

    def matches(self) -> bool:
        """Whether the data read is what the entry declares (header or descriptor)."""
        inflate = self.inflate
        if inflate is not None and not inflate.eof:
            return False
        return (
            self.produced == self.size
            and self.running_crc == self.crc
            and self.fed == self.compressed
        )


class ZipStreamCheck:
    """Feed it the zip's bytes in order (`feed`); `entries` then holds the entries checked
    so far, by the offset of their local header. `max_total_bytes`: inflating stops
    being checked past that many bytes (the full check's own limit then speaks)."""

    def __init__(self, keep_up_to: int = 64 * 1024, max_total_bytes: int | None = None) -> None:
        self.keep_up_to = keep_up_to
        self.max_total_bytes = max_total_bytes
        self.entries: dict[int, StreamedEntry] = {}
        self.stopped = False  #: the rest is left to `check_archive`
        self._offset = 0  #: of the next byte fed
        self._produced = 0  #: inflated bytes, all entries
        self._pending = bytearray()  #: a header or descriptor gathered across pieces
        self._need = _LOCAL_HEADER.size
        self._state = "header"  # header, name, data, descriptor
        self._fields: tuple[int, ...] = ()
        self._entry: _Entry | None = None

    def feed(self, piece: bytes | memoryview) -> None:
        view = memoryview(piece).cast("B")
        while view and not self.stopped:
            view = self._feed_data(view) if self._state == "data" else self._gather(view)

    # -- headers and descriptors: fixed sizes, gathered across pieces ------------------

    def _gather(self, view: memoryview) -> memoryview:
        taken = min(self._need - len(self._pending), len(view))
        self._pending += view[:taken]
        self._offset += taken
        if len(self._pending) == self._need:
            self._read_gathered()
        return view[taken:]

    def _read_gathered(self) -> None:
        """The state's reader, once its bytes are all there."""
        {"header": self._read_header, "name": self._read_name}.get(
            self._state, self._read_descriptor
        )()

    def _read_header(self) -> None:
        fields = _LOCAL_HEADER.unpack(bytes(self._pending))
        signature, _, flags, method, _, _, _, compressed, size, name_len, extra_len = fields
        unsupported = (
            signature != _LOCAL_SIGNATURE  # the central directory (or not a zip): done
            or flags & _ENCRYPTED
            or method not in (_STORED, _DEFLATED)
            or (method == _STORED and compressed != size)
        )
        if unsupported:
            self.stopped = True
            return
        self._fields = fields
        self._restart("name", name_len + extra_len)

    def _read_name(self) -> None:
        _, _, flags, method, _, _, _, compressed, size, name_len, _ = self._fields
        raw, extra = bytes(self._pending[:name_len]), bytes(self._pending[name_len:])
        try:
            name = raw.decode("utf-8") if flags & _UTF8_NAME else raw.decode("cp437")
        except UnicodeDecodeError:
            self.stopped = True
            return
        zip64 = _has_zip64(extra)
        at = self._offset - len(self._pending) - _LOCAL_HEADER.size
        entry = _Entry(at, name, self._fields, zip64)
        self._entry = entry
        if entry.described:
            if method == _STORED:  # its size comes after it: only an empty one is known
                self._restart("descriptor", 4)
                return
        elif _ZIP64_SIZE in (compressed, size):  # sizes in the zip64 field: not followed
            self.stopped = True
            return
        elif compressed == 0:
            self._end_entry()
            return
        self._pending.clear()
        self._state = "data"

    def _read_descriptor(self) -> None:
        """The data descriptor: [signature] CRC, compressed size, size (8-byte sizes for
        a zip64 entry), gathered in two steps since the signature is optional."""
        entry = self._entry
        assert entry is not None
        sizes = 16 if entry.zip64 else 8
        if len(self._pending) == 4:  # the first four bytes tell whether it has one
            signed = bytes(self._pending) == _DESCRIPTOR_SIGNATURE
            self._need = 4 + 4 + sizes if signed else 4 + sizes
            return
        body = bytes(self._pending[-(4 + sizes) :])
        entry.crc = int.from_bytes(body[:4], "little")
        half = sizes // 2
        entry.compressed = int.from_bytes(body[4 : 4 + half], "little")
        entry.size = int.from_bytes(body[4 + half :], "little")
        self._end_entry()

    def _restart(self, state: str, need: int) -> None:
        self._state, self._need = state, need
        self._pending.clear()
        if need == 0:  # an entry without name nor extra field: nothing to wait for
            self._read_gathered()

    # -- entry data ----------------------------------------------------------------------

    def _feed_data(self, view: memoryview) -> memoryview:
        entry = self._entry
        assert entry is not None
        if entry.described:  # deflated: the stream's own end says where the data ends
            piece, rest = view, view[:0]
        else:
            taken = min(entry.left, len(view))
            piece, rest = view[:taken], view[taken:]
            entry.left -= taken
        unused = self._take(entry, piece)
        if unused is None:
            self.stopped = True
            return view[:0]
        self._offset += len(piece) - len(unused)
        if entry.described and entry.inflate is not None and entry.inflate.eof:
            self._restart("descriptor", 4)
            return unused  # the descriptor, and what follows it
        if not entry.described and entry.left == 0:
            self._end_entry()
        return rest

    def _take(self, entry: _Entry, piece: memoryview) -> memoryview | None:
        """Check `piece` of the entry's data; returns what lies past the end of its
        deflate stream (empty unless it ended here), or None when the entry is wrong."""
        if entry.inflate is None:
            entry.fed += len(piece)
            entry.output(piece, self.keep_up_to)
            self._produced += len(piece)
            return piece[:0] if self._within_limits(entry) else None
        data: bytes | memoryview = piece
        while data and not entry.inflate.eof:
            cap = _INFLATE_STEP
            if not entry.described:  # never more than the declared size (+1 to see more)
                cap = min(cap, entry.size - entry.produced + 1)
            try:
                out = entry.inflate.decompress(data, cap)
            except zlib.error:  # not a deflate stream where one should be
                return None
            entry.output(out, self.keep_up_to)
            self._produced += len(out)
            if not self._within_limits(entry):
                return None
            data = entry.inflate.unconsumed_tail
        unused = entry.inflate.unused_data if entry.inflate.eof else b""
        if unused and not entry.described:
            return None  # bytes after the deflate stream, inside the declared size
        entry.fed += len(piece) - len(unused)
        return memoryview(piece)[len(piece) - len(unused) :]

    def _within_limits(self, entry: _Entry) -> bool:
        if not entry.described and entry.produced > entry.size:
            return False
        return self.max_total_bytes is None or self._produced <= self.max_total_bytes

    def _end_entry(self) -> None:
        entry, self._entry = self._entry, None
        self._restart("header", _LOCAL_HEADER.size)
        if entry is None or not entry.matches():
            self.stopped = True
            return
        content = b"".join(entry.kept) if entry.kept is not None else None
        self.entries[entry.offset] = StreamedEntry(
            entry.name, entry.method, entry.crc, entry.compressed, entry.size, content
        )


def _has_zip64(extra: bytes) -> bool:
    """Whether a local header's extra field holds a zip64 record (then a descriptor's
    sizes are 8 bytes each)."""
    at = 0
    while at + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, at)
        if kind == _ZIP64_EXTRA:
            return True
        at += 4 + size
    return False

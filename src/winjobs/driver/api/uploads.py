"""Streaming multipart/form-data reception straight into the data folder.

Why not FastAPI's `UploadFile`: it spools to the system temp folder (then we would copy
it), cannot stop an oversized upload while it streams, and cannot refuse a stale report
before its (possibly large) file arrives. Here the body is parsed as it comes
(python-multipart's push parser): text fields are kept (small), the one file field is
written to a file under the data folder's tmp/ in batches handed to the thread pool (and
hashed on the way when asked), or kept in memory when the caller allows it and it is
small (a task output of a few KB should not cost a file written then read back).

`check_fields` runs when the file part starts (clients send text fields first), so a bad
submission or a stale attempt is refused before the file is transferred: the rest of the
body is then read and dropped, so the client receives the error instead of a broken
connection. An oversized file stops the reception at once (413). A client that hangs up (a worker
killed mid-upload, a dropped connection) is one WARNING line in the log, not a traceback:
what it sent so far is removed, as for any refused upload.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import anyio.to_thread
from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from winjobs.driver.errors import ClientGone, DriverError, Invalid, TooLarge
from winjobs.driver.files import remove_tree

log = logging.getLogger(__name__)

_MAX_FIELD_BYTES = 1024 * 1024
_WRITE_BATCH = 4 * 1024 * 1024

FieldsCheck = Callable[[dict[str, str]], Awaitable[None]]
Observer = Callable[[bytes | memoryview], None]


@dataclass
class Received:
    fields: dict[str, str]
    path: Path  #: the file's content, unless `data` holds it (exists only if it was sent)
    size: int = 0
    sha256: str = ""  #: empty unless asked for
    has_file: bool = False
    data: bytes | None = None  #: the file's content, when it was small enough to keep here


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    header_field: bytes = b""
    header_value: bytes = b""
    data: bytearray = field(default_factory=bytearray)


class _Receiver:
    """Callbacks of the push parser; the async side drains `pending` after each feed."""

    def __init__(self, file_field: str) -> None:
        self.file_field = file_field
        self.part = _Part()
        self.fields: dict[str, str] = {}
        self.file_started = False
        self.file_done = False
        #: file data parsed but not yet taken (views into the received chunks: no copy)
        self.file_chunks: list[bytes | memoryview] = []
        self.file_pending = 0

    def take_file_chunks(self) -> list[bytes | memoryview]:
        chunks, self.file_chunks, self.file_pending = self.file_chunks, [], 0
        return chunks

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self.part = _Part()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self.part.header_field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self.part.header_value += data[start:end]

    def _header_end(self) -> None:
        self.part.headers.append((self.part.header_field.lower(), self.part.header_value))
        self.part.header_field = self.part.header_value = b""

    def _headers_finished(self) -> None:
        disposition = dict(self.part.headers).get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        self.part.name = options.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = options.get(b"filename")
        # the name is not used (the content is what counts): any bytes will do
        self.part.filename = (
            None if raw_filename is None else raw_filename.decode("utf-8", "replace")
        )
        if self._is_file():
            self.file_started = True

    def _is_file(self) -> bool:
        return self.part.name == self.file_field and self.part.filename is not None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file():
            # the received chunk is immutable: keep a view; the parser's own buffer is not
            piece = memoryview(data)[start:end] if isinstance(data, bytes) else data[start:end]
            self.file_chunks.append(piece)
            self.file_pending += end - start
            return
        self.part.data += data[start:end]
        if len(self.part.data) > _MAX_FIELD_BYTES:
            raise Invalid(f"form field {self.part.name!r} is larger than 1 MiB")

    def _part_end(self) -> None:
        if self._is_file():
            self.file_done = True
        elif self.part.name:
            self.fields[self.part.name] = self.part.data.decode("utf-8", "replace")


def _boundary(request: Request) -> bytes:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise Invalid("expected a multipart/form-data body")
    return params[b"boundary"]


async def receive_multipart(
    request: Request,
    file_field: str,
    dest: Path,
    max_file_bytes: int,
    check_fields: FieldsCheck | None = None,
    *,
    memory_limit: int = 0,
    hashed: bool = True,
    observe: Observer | None = None,
) -> Received:
    """Read the request body; the file field's content ends up in `dest` (a new file),
    or in `Received.data` if it is no larger than `memory_limit` (small task outputs:
    no file is written for them until they are kept). `hashed`: compute its sha256.
    `observe`: called with the content written to `dest`, in order, as it is written
    (in the thread that writes it): a task output's zip is checked as it arrives."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_file_bytes + _MAX_FIELD_BYTES:
        raise TooLarge(f"the upload is larger than this driver's limit of {max_file_bytes} bytes")
    receiver = _Receiver(file_field)
    parser = MultipartParser(_boundary(request), receiver.callbacks())  # type: ignore[arg-type]
    received = Received(fields=receiver.fields, path=dest)
    sink = _Sink(dest, max_file_bytes, memory_limit, hashlib.sha256() if hashed else None)
    sink.observe = observe
    refused: DriverError | None = None
    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise Invalid(f"malformed multipart body: {exc}") from exc
            if refused is not None:
                receiver.take_file_chunks()  # drain: read the body, keep nothing
                continue
            if receiver.file_started and not received.has_file:
                if check_fields is not None:
                    try:
                        await check_fields(dict(receiver.fields))
                    except DriverError as exc:
                        refused = exc
                        receiver.take_file_chunks()
                        continue
                received.has_file = True
            if receiver.file_pending >= _WRITE_BATCH or sink.spills(receiver.file_pending):
                await sink.take(receiver.take_file_chunks())
        parser.finalize()
        if refused is not None:
            raise refused
        if not received.has_file:
            if check_fields is not None:
                await check_fields(dict(receiver.fields))
            raise Invalid(f"the request has no file field {file_field!r}")
        await sink.take(receiver.take_file_chunks(), last=True)
        received.size, received.data = sink.size, sink.data
        received.sha256 = sink.digest.hexdigest() if sink.digest is not None else ""
        return received
    except BaseException as exc:
        sink.abandon()
        remove_tree(dest)
        if isinstance(exc, ClientDisconnect):
            log.warning(
                "%s %s: the client hung up during the upload (%d bytes of its file "
                "received, removed)",
                request.method,
                request.url.path,
                sink.size + receiver.file_pending,
            )
            raise ClientGone("the client hung up during the upload") from None
        raise


class _Sink:
    """Where the file's bytes go: memory while they fit in `memory_limit`, else `dest`
    (written in batches by the thread pool, hashed and observed on the way, each batch
    while the next one arrives). Batches are lists of views into the received chunks,
    written as they are: no copy on the way."""

    def __init__(
        self, dest: Path, max_bytes: int, memory_limit: int, digest: hashlib._Hash | None
    ) -> None:
        self.dest, self.max_bytes, self.memory_limit = dest, max_bytes, memory_limit
        self.digest = digest
        self.size = 0
        self.held: list[bytes | memoryview] = []
        self.data: bytes | None = None
        self.handle: IO[bytes] | None = None
        self.observe: Observer | None = None
        self._in_flight: asyncio.Future[None] | None = None
        self._abandoned = False  #: the upload failed while a batch was being written

    def spills(self, pending: int) -> bool:
        """Whether `pending` more bytes make the file too large for memory while it has
        no file yet: then its file is created at once with what came so far (an upload
        under way is visible in tmp/, and removed at start-up if the driver dies), and
        later batches go to it."""
        return self.handle is None and self.size + pending > self.memory_limit

    async def take(self, chunks: list[bytes | memoryview], last: bool = False) -> None:
        self.size += sum(len(chunk) for chunk in chunks)
        if self.size > self.max_bytes:
            raise TooLarge(
                f"the upload is larger than this driver's limit of {self.max_bytes} bytes"
            )
        self.held += chunks
        if self.handle is None and self.size <= self.memory_limit:
            if last:
                self.data = b"".join(self.held)
                self.held = []
                if self.digest is not None:
                    self.digest.update(self.data)
            return
        batch, self.held = self.held, []
        await self._settle()  # one batch in flight at a time: memory stays bounded
        if last:
            await anyio.to_thread.run_sync(self._write, batch, True)
        else:  # written (and observed) while the next batch arrives
            self._in_flight = asyncio.ensure_future(
                anyio.to_thread.run_sync(self._write, batch, False)
            )

    async def _settle(self) -> None:
        """Wait for the batch in flight (its error, such as a full disk, is raised here).
        It stays `_in_flight` until it is done, even if this wait is cancelled: then
        `abandon` leaves the file to the thread still writing it."""
        if self._in_flight is not None:
            await asyncio.shield(self._in_flight)
            self._in_flight = None

    def abandon(self) -> None:
        """After an error: close the file; a batch still being written closes and
        removes it once written (the caller removes it as well)."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is None:
            self.close()
            return
        self._abandoned = True  # seen by the thread writing, after its batch
        in_flight.add_done_callback(self._after_abandoned)

    def _after_abandoned(self, done: asyncio.Future[None]) -> None:
        if not done.cancelled():
            done.exception()  # retrieved: the upload's own error is the one reported
        self.close()
        remove_tree(self.dest)

    def _write(self, batch: list[bytes | memoryview], last: bool) -> None:
        if self.handle is None:
            self.dest.parent.mkdir(parents=True, exist_ok=True)
            self.handle = self.dest.open("xb", buffering=0)
        for piece in batch:
            if self.digest is not None:
                self.digest.update(piece)
            view = memoryview(piece)
            while view:  # an unbuffered write may take part of it
                view = view[self.handle.write(view) or 0 :]
            if self.observe is not None:
                self.observe(piece)
        if last or self._abandoned:
            self.close()
        if self._abandoned:
            remove_tree(self.dest)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None

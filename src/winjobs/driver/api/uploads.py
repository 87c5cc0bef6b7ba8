"""Streaming multipart/form-data reception straight into the data folder.

Why not FastAPI's `UploadFile`: it spools to the system temp folder (then we would copy
it), cannot stop an oversized upload while it streams, and cannot refuse a stale report
before its (possibly large) file arrives. Here the body is parsed as it comes
(python-multipart's push parser): text fields are kept (small), the one file field is
written to a file under the data folder's tmp/ in batches handed to the thread pool, and
hashed on the way.

`check_fields` runs when the file part starts (clients send text fields first), so a bad
submission or a stale attempt is refused before the file is transferred: the rest of the
body is then read and dropped, so the client receives the error instead of a broken
connection. An oversized file stops the reception at once (413). A client that hangs up (a worker
killed mid-upload, a dropped connection) is one WARNING line in the log, not a traceback:
what it sent so far is removed, as for any refused upload.
"""

from __future__ import annotations

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
_WRITE_BATCH = 1024 * 1024

FieldsCheck = Callable[[dict[str, str]], Awaitable[None]]


@dataclass
class Received:
    fields: dict[str, str]
    path: Path  #: the file's content (exists only if the file part was present)
    size: int = 0
    sha256: str = ""
    has_file: bool = False


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
        self.file_bytes = bytearray()  # file data parsed but not yet written

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
            self.file_bytes += data[start:end]
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
) -> Received:
    """Read the request body; the file field's content ends up in `dest` (a new file)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_file_bytes + _MAX_FIELD_BYTES:
        raise TooLarge(f"the upload is larger than this driver's limit of {max_file_bytes} bytes")
    receiver = _Receiver(file_field)
    parser = MultipartParser(_boundary(request), receiver.callbacks())  # type: ignore[arg-type]
    received = Received(fields=receiver.fields, path=dest)
    digest = hashlib.sha256()
    handle: IO[bytes] | None = None
    refused: DriverError | None = None
    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise Invalid(f"malformed multipart body: {exc}") from exc
            if refused is not None:
                receiver.file_bytes.clear()  # drain: read the body, keep nothing
                continue
            if receiver.file_started and handle is None:
                if check_fields is not None:
                    try:
                        await check_fields(dict(receiver.fields))
                    except DriverError as exc:
                        refused = exc
                        receiver.file_bytes.clear()
                        continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                handle = dest.open("xb")
                received.has_file = True
            if len(receiver.file_bytes) >= _WRITE_BATCH or (
                receiver.file_done and receiver.file_bytes
            ):
                await _flush(receiver, handle, digest, received, max_file_bytes)
        parser.finalize()
        if refused is not None:
            raise refused
        if receiver.file_bytes:
            await _flush(receiver, handle, digest, received, max_file_bytes)
        if handle is not None:
            handle.close()
            handle = None
        if not received.has_file:
            if check_fields is not None:
                await check_fields(dict(receiver.fields))
            raise Invalid(f"the request has no file field {file_field!r}")
        received.sha256 = digest.hexdigest()
        return received
    except BaseException as exc:
        if handle is not None:
            handle.close()
        remove_tree(dest)
        if isinstance(exc, ClientDisconnect):
            log.warning(
                "%s %s: the client hung up during the upload (%d bytes of its file "
                "received, removed)",
                request.method,
                request.url.path,
                received.size,
            )
            raise ClientGone("the client hung up during the upload") from None
        raise


async def _flush(
    receiver: _Receiver,
    handle: IO[bytes] | None,
    digest: hashlib._Hash,
    received: Received,
    max_file_bytes: int,
) -> None:
    data = bytes(receiver.file_bytes)
    receiver.file_bytes.clear()
    received.size += len(data)
    if received.size > max_file_bytes:
        raise TooLarge(f"the upload is larger than this driver's limit of {max_file_bytes} bytes")
    assert handle is not None
    target = handle

    def hash_and_write() -> None:
        digest.update(data)
        target.write(data)

    await anyio.to_thread.run_sync(hash_and_write)

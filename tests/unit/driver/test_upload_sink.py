"""Where a large upload's bytes go: written batch by batch while the next arrives, and
nothing left behind when the upload fails while a batch is being written."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import anyio
import pytest

from winjobs.driver.api.uploads import _Sink
from winjobs.driver.errors import TooLarge

MB = 1024 * 1024


class _HeldBatch:
    """An observer that holds the batch being written in its thread until released."""

    def __init__(self) -> None:
        self.writing, self.release = threading.Event(), threading.Event()

    def __call__(self, piece: bytes | memoryview) -> None:
        self.writing.set()
        self.release.wait(10)

    async def until_writing(self) -> None:
        with anyio.fail_after(10):
            while not self.writing.is_set():
                await anyio.sleep(0.01)


def _gone(dest: Path) -> None:
    deadline = time.monotonic() + 10
    while dest.exists():
        assert time.monotonic() < deadline, "the abandoned upload's file is still there"
        time.sleep(0.05)


def test_batches_are_written_in_order_and_observed(tmp_path: Path) -> None:
    dest = tmp_path / "tmp" / "upload"
    seen: list[bytes] = []
    sink = _Sink(dest, 100 * MB, 0, None)
    sink.observe = lambda piece: seen.append(bytes(piece))
    pieces = [bytes([n]) * (MB // 2) for n in range(7)]

    async def receive() -> None:
        for piece in pieces[:-1]:
            await sink.take([piece])
        await sink.take([pieces[-1]], last=True)

    anyio.run(receive)
    assert dest.read_bytes() == b"".join(pieces)
    assert b"".join(seen) == b"".join(pieces)
    assert sink.handle is None  # closed


def test_a_failure_while_a_batch_is_written_leaves_no_file(tmp_path: Path) -> None:
    dest = tmp_path / "tmp" / "upload"
    held = _HeldBatch()
    sink = _Sink(dest, 6 * MB, 0, None)
    sink.observe = held

    async def receive() -> None:
        await sink.take([b"x" * (4 * MB)])  # in flight: its thread waits in the observer
        await held.until_writing()
        with pytest.raises(TooLarge):
            await sink.take([b"y" * (4 * MB)])
        sink.abandon()  # as the reception does on any error
        held.release.set()
        await anyio.sleep(0.2)  # the batch's thread ends, then its done callback runs

    anyio.run(receive)
    _gone(dest)
    assert sink.handle is None


def test_a_reception_cancelled_while_a_batch_is_written_leaves_no_file(tmp_path: Path) -> None:
    """The reception's task is cancelled (the client hung up) while it waits for the
    batch in flight: the file is left to the thread writing it, which removes it."""
    dest = tmp_path / "tmp" / "upload"
    held = _HeldBatch()
    sink = _Sink(dest, 100 * MB, 0, None)
    sink.observe = held

    async def receive() -> None:
        await sink.take([b"x" * (4 * MB)])
        await held.until_writing()
        with anyio.move_on_after(0.2):  # cancelled while waiting for the batch in flight
            await sink.take([b"y" * (4 * MB)])
        sink.abandon()
        assert sink.handle is not None  # not closed under the thread still writing
        held.release.set()
        await anyio.sleep(0.2)

    anyio.run(receive)
    _gone(dest)
    assert sink.handle is None

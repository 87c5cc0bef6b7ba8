"""Fixtures of every unit test."""

from __future__ import annotations

import pytest

from winjobs.driver import runtime
from winjobs.driver.assembly import InlineAssembler


@pytest.fixture(autouse=True)
def assemblies_in_the_test_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A driver built by a unit test merges in its own thread: an assembly process per
    test app would cost more than most tests (`test_assembly.py` tests the process; the
    loopback and end-to-end drivers run with it)."""
    monkeypatch.setattr(runtime, "make_assembler", lambda idle_s: InlineAssembler())

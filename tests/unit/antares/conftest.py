"""Fixtures of the output-layer tests."""

from __future__ import annotations

from tests.helpers.real_outputs import real_outputs, run_folder

__all__ = ["real_outputs", "run_folder"]

"""Counts in sentences people read: `1 year`, `3 years`, never `(1 years)`."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`counted(1, "year")` -> `1 year`; `counted(3, "year")` -> `3 years`."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"

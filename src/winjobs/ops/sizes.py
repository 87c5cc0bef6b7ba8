"""Byte counts as people read them in messages: `512 B`, `3.4 MiB`, `1.2 TiB`."""

from __future__ import annotations


def readable_size(size: float) -> str:
    """Binary units (what disk tools show), one decimal above bytes."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"

"""Durations as operators type them: `30d`, `12h`, `1d12h`, `90m`, `2w`, `45s`.

Used by `winjobs clean ... --older-than`. A bare number is refused (seconds? days?):
the unit is what makes a retention rule readable in a script a year later.
"""

from __future__ import annotations

import re
from datetime import timedelta

from winjobs.errors import ConfigError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_EXAMPLE = "a number and a unit s, m, h, d or w, e.g. 30d, 12h or 1d12h"


class DurationError(ConfigError):
    """A duration that cannot be read."""


def parse_duration(text: str) -> timedelta:
    """`30d` -> 30 days; several parts add up (`1d12h`). Raises DurationError."""
    compact = text.strip().lower().replace(" ", "")
    if not compact:
        raise DurationError(f"empty duration: expected {_EXAMPLE}")
    seconds = 0.0
    position = 0
    for match in _PART.finditer(compact):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(compact):
        raise DurationError(f"duration {text!r} cannot be read: expected {_EXAMPLE}")
    return timedelta(seconds=seconds)


def describe_duration(delta: timedelta) -> str:
    """The largest whole units: 30 days -> `30d`, 36 hours -> `1d12h`, 0 -> `0s`."""
    left = int(delta.total_seconds())
    parts = []
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if unit == "w":
            continue  # `30d` reads better than `4w2d`
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"

from __future__ import annotations

import pytest

from winjobs.ops.sizes import readable_size


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (3.5 * 1024**2, "3.5 MiB"),
        (1024**3 - 1, "1024.0 MiB"),
        (5 * 1024**4, "5.0 TiB"),
    ],
)
def test_readable_size(size: float, text: str) -> None:
    assert readable_size(size) == text

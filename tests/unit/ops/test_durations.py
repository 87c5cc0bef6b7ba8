from __future__ import annotations

from datetime import timedelta

import pytest

from winjobs.ops.durations import DurationError, describe_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
        ("2w", timedelta(days=14)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1.5h", timedelta(minutes=90)),
        (" 7D ", timedelta(days=7)),
        ("1d 6h", timedelta(days=1, hours=6)),
        ("0s", timedelta(0)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "30x", "d30", "-1d", "1d-2h", "3 days", "1..5h"])
def test_unreadable_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(DurationError, match=r"e\.g\. 30d, 12h") as caught:
        parse_duration(text)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("delta", "text"),
    [(timedelta(days=30), "30d"), (timedelta(hours=36), "1d12h"), (timedelta(0), "0s")],
)
def test_describe(delta: timedelta, text: str) -> None:
    assert describe_duration(delta) == text
    assert parse_duration(text) == delta

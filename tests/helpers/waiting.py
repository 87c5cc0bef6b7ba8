"""Waiting for an event in a test: poll a condition until it holds, or fail saying what
never happened. Never `sleep` then assert: a loaded machine makes that flaky, and a fast
one makes it pass without the event."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

#: how long a test waits for something that normally takes milliseconds: long enough for
#: a CI machine shared by many jobs, short enough that a real hang still fails the test
GENEROUS_S = 60.0


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """The condition's first truthy value; AssertionError naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)

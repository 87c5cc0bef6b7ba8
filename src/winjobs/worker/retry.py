"""Retry calls to the driver while it is down, slow or failing, without crashing the worker.

Only transient errors are retried (no answer, timeout, 5xx). A 4xx is the driver's final
word and goes back to the caller: a 409 in particular means the task was re-assigned
meanwhile, and retrying would only be refused again. Waits grow exponentially with
random jitter so that a fleet of workers does not hammer a driver that comes back up.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from winjobs.client import ClientError
from winjobs.errors import WinjobsError

T = TypeVar("T")

log = logging.getLogger(__name__)


class Cancellable(Protocol):
    """What a retry wait can be cut short by: a `threading.Event` or a `StopRequest`."""

    def wait(self, timeout: float | None = None) -> bool: ...


class RetryAborted(WinjobsError):
    """Retrying stopped because the worker was told to stop (second Ctrl-C)."""


@dataclass
class Backoff:
    """Exponential backoff with jitter: wait n is `initial * factor**n`, capped at `max_s`,
    scaled by a random factor in [1 - jitter, 1]."""

    initial_s: float = 1.0
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        ceiling = min(self.max_s, self.initial_s * self.factor ** min(attempt, 64))
        return ceiling * (1.0 - self.jitter * self.rng.random())


def retry_transient(
    call: Callable[[], T],
    *,
    what: str,
    backoff: Backoff,
    abort: Cancellable | None = None,
    give_up_after_s: float | None = None,
) -> T:
    """`call()` until it succeeds or fails for good.

    Transient `ClientError`s are retried after a backoff wait; any other error is raised
    at once. `abort` set during a wait raises `RetryAborted`. With `give_up_after_s`, the
    last transient error is raised once that much waiting has been spent.
    """
    attempt = 0
    waited = 0.0
    while True:
        try:
            return call()
        except ClientError as exc:
            if not exc.is_transient:
                raise
            if give_up_after_s is not None and waited >= give_up_after_s:
                raise
            delay = backoff.delay(attempt)
            attempt += 1
            waited += delay
            log.warning("%s failed (%s); retry %d in %.1f s", what, exc, attempt, delay)
            if abort is None:
                time.sleep(delay)
            elif abort.wait(delay):
                raise RetryAborted(f"{what}: gave up, the worker is stopping") from exc

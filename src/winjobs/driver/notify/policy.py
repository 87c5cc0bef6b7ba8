"""Pure policy of the notification outbox: when to try again, and when to give up.

A notification row moves `pending -> sent`, or `pending -> retrying -> ... -> sent |
gave_up`. Every failed attempt waits longer than the one before (exponential backoff,
capped), and the number of attempts is bounded, so a receiver that is gone for good costs
a few requests and never a growing queue. No I/O and no clock of its own: the sender
passes `now`, so the whole machine is tested with made-up times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from winjobs.wire import DeliveryState

#: longest error text kept on a row (the receiver's answer can be a whole HTML page)
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class Backoff:
    first_delay_s: float
    max_delay_s: float
    max_attempts: int
    factor: float = 2.0

    def delay_after(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (1-based)."""
        delay = self.first_delay_s
        for _ in range(1, attempts):  # multiplied step by step: no overflow, ever
            if delay >= self.max_delay_s:
                break
            delay *= self.factor
        return min(delay, self.max_delay_s)

    def schedule(self) -> list[float]:
        """Every wait between attempts, first to last (docs, tests)."""
        return [self.delay_after(n) for n in range(1, self.max_attempts)]


@dataclass(frozen=True)
class Delivery:
    """What becomes of a row after one attempt."""

    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    sent_at: datetime | None


def after_attempt(
    attempts_before: int, error: str | None, now: datetime, backoff: Backoff
) -> Delivery:
    """The row's next state once an attempt ended (`error` None: the receiver took it)."""
    attempts = attempts_before + 1
    if error is None:
        return Delivery(DeliveryState.SENT, attempts, None, None, now)
    kept = error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 3] + "..."
    if attempts >= backoff.max_attempts:
        return Delivery(DeliveryState.GAVE_UP, attempts, None, kept, None)
    wait = timedelta(seconds=backoff.delay_after(attempts))
    return Delivery(DeliveryState.RETRYING, attempts, now + wait, kept, None)

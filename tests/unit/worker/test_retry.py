from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest

from winjobs.client import ClientError
from winjobs.worker.retry import Backoff, RetryAborted, retry_transient


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    backoff = Backoff(initial_s=1.0, max_s=10.0, factor=2.0, jitter=0.5, rng=random.Random(1))
    delays = [backoff.delay(n) for n in range(8)]
    ceilings = [1, 2, 4, 8, 10, 10, 10, 10]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling * 0.5 <= delay <= ceiling
    assert len({round(d, 6) for d in delays[4:]}) == 4  # jitter spreads the capped waits
    assert Backoff(jitter=0.0).delay(3) == 8.0
    assert Backoff(max_s=5).delay(10_000) <= 5  # no overflow on very long outages


def _flaky(
    failures: list[ClientError], result: str = "done"
) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return result

    return calls, call


def test_transient_errors_are_retried_until_success() -> None:
    failures = [ClientError("down"), ClientError("busy", 503), ClientError("timeout")]
    calls, call = _flaky(failures)
    fast = Backoff(initial_s=0.001, max_s=0.002)
    assert retry_transient(call, what="claim", backoff=fast) == "done"
    assert len(calls) == 4


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_a_4xx_is_final(status: int) -> None:
    calls, call = _flaky([ClientError("no", status)])
    with pytest.raises(ClientError) as caught:
        retry_transient(call, what="report", backoff=Backoff(initial_s=0.001))
    assert caught.value.status_code == status
    assert len(calls) == 1


def test_abort_ends_the_wait() -> None:
    abort = threading.Event()
    calls, call = _flaky([ClientError("down")] * 100)
    threading.Timer(0.1, abort.set).start()
    with pytest.raises(RetryAborted, match="report: gave up"):
        retry_transient(call, what="report", backoff=Backoff(initial_s=30), abort=abort)
    assert len(calls) == 1


def test_give_up_after_a_budget() -> None:
    calls, call = _flaky([ClientError("down")] * 100)
    with pytest.raises(ClientError, match="down"):
        retry_transient(
            call,
            what="register",
            backoff=Backoff(initial_s=0.01, max_s=0.01, jitter=0),
            give_up_after_s=0.05,
        )
    assert 5 <= len(calls) <= 7

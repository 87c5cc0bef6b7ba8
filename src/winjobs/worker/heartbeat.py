"""Heartbeats from a thread of their own while a task is held.

The main thread is busy downloading, waiting on the solver or uploading; the lease must be
renewed meanwhile, and the driver's answers (the job was cancelled; this attempt is no
longer ours) must reach the main thread quickly. They travel through the task's
`StopRequest`, which the solver watcher polls.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from winjobs.client import ClientError, DriverClient
from winjobs.wire import Heartbeat, PolicyReport
from winjobs.worker.runner import StopReason, StopRequest

log = logging.getLogger(__name__)

#: Answers that mean the attempt is not ours any more: re-assigned (409) or gone (404, 410).
_LOST = {404, 409, 410}


class HeartbeatThread:
    """Renews one task's lease every `interval_s` until `stop()`; use it as a context manager."""

    def __init__(
        self,
        client: DriverClient,
        task_id: int,
        attempt: int,
        interval_s: float,
        progress: Callable[[], int],
        stop_request: StopRequest,
        policy: Callable[[], PolicyReport | None] = lambda: None,
        suspended: Callable[[], bool] = lambda: False,
        wake: threading.Event | None = None,
    ) -> None:
        self._client = client
        self._task_id = task_id
        self._attempt = attempt
        self._interval_s = max(0.05, interval_s)
        self._progress = progress
        self._stop_request = stop_request
        self._policy = policy  #: the worker's owner policy state, sent along
        self._suspended = suspended  #: whether this attempt's solver is suspended
        self._done = threading.Event()
        self._wake = wake or threading.Event()  #: set: beat now
        self._thread = threading.Thread(
            target=self._loop, name=f"heartbeat-task-{task_id}", daemon=True
        )
        self.beats = 0  #: heartbeats the driver answered

    def start(self) -> None:
        self._thread.start()

    def __enter__(self) -> HeartbeatThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def nudge(self) -> None:
        """Beat now rather than at the next interval (the task was suspended or resumed:
        the driver shows it at once)."""
        self._wake.set()

    def stop(self) -> None:
        self._done.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _loop(self) -> None:
        while True:
            self._wake.wait(self._interval_s)
            self._wake.clear()
            if self._done.is_set() or not self._beat():
                return

    def _beat(self) -> bool:
        """One heartbeat; False once the task must be abandoned (no more beats needed)."""
        try:
            years_done = self._progress()
        except Exception:  # progress is best effort: a beat without it still renews the lease
            log.exception("task %d: reading progress failed", self._task_id)
            years_done = 0
        try:
            beat = Heartbeat(
                attempt=self._attempt,
                years_done=years_done,
                suspended=self._suspended(),
                policy=self._policy(),
            )
            reply = self._client.heartbeat(self._task_id, beat)
        except ClientError as exc:
            if exc.status_code in _LOST:
                log.warning("task %d: %s; dropping it", self._task_id, exc)
                self._stop_request.request(StopReason.LEASE_LOST)
                return False
            # Driver down or failing: keep trying. If it stays away past the lease, the
            # driver re-queues the task and tells us with a 409 once it is back.
            log.warning("task %d: heartbeat failed (%s); will retry", self._task_id, exc)
            return True
        self.beats += 1
        if reply.cancel:
            log.info("task %d: the job was cancelled", self._task_id)
            self._stop_request.request(StopReason.CANCELLED)
            return False
        return True

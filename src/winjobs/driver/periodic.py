"""A background thread that does one thing every few seconds until the driver stops."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class Periodic:
    """Calls `tick()` every `interval_s` in a daemon thread between `start()` and
    `stop()`. A failing tick (a database hiccup) is logged and tried again next time:
    it must not end the thread for good."""

    #: the thread's name, and what the log calls a failed tick
    name = "periodic"

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> object:
        raise NotImplementedError

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except Exception:
                log.exception("%s failed; trying again in %.1f s", self.name, self.interval_s)

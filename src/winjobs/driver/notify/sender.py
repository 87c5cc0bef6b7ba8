"""The background sender: delivers the outbox's due notifications, one attempt at a time.

Its own thread, its own short transactions: the transaction that ends a job only inserts
rows (`store/outbox.py`), and nothing here runs inside a request, so a webhook that hangs
until its timeout, or a mail server that refuses connections, delays other notifications
at most, never claims or reports. Rows survive a restart: a driver that stopped with
notifications pending sends them when it starts again (at least once: a row whose
attempt was under way when the driver died is sent again).
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx

from winjobs.driver.notify.config import NotifySettings
from winjobs.driver.notify.policy import Backoff, after_attempt
from winjobs.driver.notify.secret import webhook_secret
from winjobs.driver.notify.transports import Mailer, NoMail, Transport, Webhook
from winjobs.driver.store import Clock, DueNotification, Store
from winjobs.wire import MAIL_PREFIX, DeliveryState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transports:
    webhook: Transport
    mail: Transport

    def for_target(self, target: str) -> Transport:
        return self.mail if target.startswith(MAIL_PREFIX) else self.webhook


def public_url(settings: NotifySettings, host: str, port: int) -> str:
    """Where users reach this driver, for the links in messages."""
    if settings.public_url:
        return settings.public_url
    shown = socket.getfqdn() if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{port}"


class NotificationSender:
    """Wakes every `poll_interval_s`, sends what is due, records the outcomes.

    Polling (one indexed query) rather than a wake-up from the ending: a job ends in the
    store, the collector, the sweeper..., and a message seconds late is no harm."""

    def __init__(
        self, store: Store, settings: NotifySettings, transports: Transports, clock: Clock
    ) -> None:
        self.store = store
        self.transports = transports
        self.clock = clock
        self.interval = settings.poll_interval_s
        self.backoff = Backoff(
            settings.first_retry_s, settings.max_retry_delay_s, settings.max_attempts
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def build(
        cls,
        store: Store,
        settings: NotifySettings,
        data_dir: Path,
        url: str,
        clock: Clock,
    ) -> NotificationSender:
        http = httpx.Client(timeout=settings.webhook_timeout_s, follow_redirects=False)
        webhook = Webhook(webhook_secret(settings, data_dir), url, http)
        mail: Transport = NoMail() if settings.smtp is None else Mailer(settings.smtp, url)
        return cls(store, settings, Transports(webhook, mail), clock)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="winjobs-notify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        webhook = self.transports.webhook
        if isinstance(webhook, Webhook):
            webhook.http.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.send_due()
            except Exception:  # a database hiccup must not end the thread
                log.exception("notification sender: will try again")
            self._wake.wait(self.interval)
            self._wake.clear()

    def send_due(self) -> int:
        """One pass over the due rows; how many attempts were made."""
        due = self.store.due_notifications(self.clock())
        for row in due:
            if self._stop.is_set():
                break
            self.attempt(row)
        return len(due)

    def attempt(self, row: DueNotification) -> DeliveryState:
        error = self.transports.for_target(row.target).send(row.target, row.summary)
        done = after_attempt(row.attempts, error, self.clock(), self.backoff)
        self.store.record_delivery(row.id, row.attempts, done)
        if done.state is DeliveryState.SENT:
            log.info("job %d: told %s", row.job_id, row.target)
        else:
            log.warning(
                "job %d: notification to %s failed (attempt %d, %s): %s",
                row.job_id,
                row.target,
                done.attempts,
                done.state.value,
                error,
            )
        return done.state

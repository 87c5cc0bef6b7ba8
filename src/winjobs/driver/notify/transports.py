"""The two ways a notification leaves the driver: a signed webhook POST and an e-mail.

Each `send` returns None when the receiver took the message, else one line saying why
not (kept on the outbox row and shown to the user); it never raises for a receiver's
fault. Both block, with a timeout: they run in the sender's own thread, never in a
request or a store transaction.

Mail goes through the standard library's `smtplib`, not aiosmtplib: the sender is a plain
thread, so an asyncio client would only add an event loop and a dependency to run it.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from winjobs.driver.notify.config import SmtpSettings
from winjobs.driver.notify.summary import (
    EVENT,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    mail_message,
    signature,
    webhook_body,
)
from winjobs.wire import MAIL_PREFIX


class Transport(Protocol):
    def send(self, target: str, summary: dict[str, Any]) -> str | None: ...


class Webhook:
    """POSTs the summary as JSON, signed with the driver's secret; 2xx is success."""

    def __init__(self, secret: bytes, public_url: str, http: httpx.Client) -> None:
        self.secret = secret
        self.public_url = public_url
        self.http = http

    def send(self, target: str, summary: dict[str, Any]) -> str | None:
        body = webhook_body(summary, self.public_url)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(self.secret, body),
            EVENT_HEADER: EVENT,
        }
        try:
            response = self.http.post(target, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if response.is_success:
            return None
        return f"HTTP {response.status_code}: {response.text.strip()[:200]}"


SmtpFactory = Callable[[str, int, float], smtplib.SMTP]


def _smtp(host: str, port: int, timeout: float) -> smtplib.SMTP:
    return smtplib.SMTP(host, port, timeout=timeout)


class Mailer:
    """Sends the summary as a plain-text mail through the configured SMTP server."""

    def __init__(
        self, settings: SmtpSettings, public_url: str, connect: SmtpFactory = _smtp
    ) -> None:
        self.settings = settings
        self.public_url = public_url
        self.connect = connect

    def send(self, target: str, summary: dict[str, Any]) -> str | None:
        smtp = self.settings
        recipient = target[len(MAIL_PREFIX) :]
        message = mail_message(summary, self.public_url, smtp.from_address, recipient)
        try:
            with self.connect(smtp.host, smtp.port, smtp.timeout_s) as server:
                if smtp.starttls:
                    server.starttls(context=ssl.create_default_context())
                if smtp.username is not None and smtp.password is not None:
                    server.login(smtp.username, smtp.password.get_secret_value())
                server.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            return f"SMTP {smtp.host}:{smtp.port}: {type(exc).__name__}: {exc}"
        return None


class NoMail:
    """Mail targets on a driver without `notify.smtp` (the setting was removed after the
    job was submitted): every attempt fails with the fix."""

    def send(self, target: str, summary: dict[str, Any]) -> str | None:
        return "the driver has no notify.smtp settings: mail cannot be sent"

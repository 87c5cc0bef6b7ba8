"""Job-end notifications with the driver served by uvicorn on loopback: a real HTTP
receiver checks the signature and the body, a real SMTP server (aiosmtpd) receives the
mail; a dead and a hanging receiver never delay claims; undelivered messages go out after
a driver restart."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SmtpSession
from aiosmtpd.smtp import Envelope, Session

from tests.integration.harness import free_port, wait_until
from tests.unit.driver.helpers import driver_settings, packed_study
from winjobs.client import DriverClient
from winjobs.driver.app import RunningDriver
from winjobs.driver.settings import DriverSettings
from winjobs.wire import (
    ClaimRequest,
    DeliveryState,
    JobSubmitFields,
    NotificationInfo,
    WorkerRegistration,
)

SECRET = "integration-test-secret"
WAIT_S = 30.0


@dataclass
class Receiver:
    """A webhook receiver on a loopback port; `hold` makes it hang until released."""

    server: ThreadingHTTPServer
    received: queue.Queue[tuple[dict[str, str], bytes]] = field(default_factory=queue.Queue)
    hold: bool = False
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def start_receiver(port: int = 0, hold: bool = False) -> Receiver:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver = holder[0]
            receiver.received.put((dict(self.headers.items()), body))
            if receiver.hold:
                receiver.release.wait(WAIT_S * 2)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    receiver = Receiver(server, hold=hold)
    holder.append(receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


def stop_receiver(receiver: Receiver) -> None:
    receiver.release.set()
    receiver.server.shutdown()
    receiver.server.server_close()


class MailBox:
    """aiosmtpd handler keeping each delivered message."""

    def __init__(self) -> None:
        self.messages: queue.Queue[tuple[list[str], Message]] = queue.Queue()

    async def handle_DATA(self, server: SmtpSession, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.put((list(envelope.rcpt_tos), message_from_bytes(content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox() -> Iterator[tuple[MailBox, int]]:
    box, port = MailBox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def settings_for(tmp_path: Path, smtp_port: int, **notify: Any) -> DriverSettings:
    smtp = {"host": "127.0.0.1", "port": smtp_port, "starttls": False}
    options = {
        "webhook_secret": SECRET,
        "public_url": "http://driver.example.com:8000",
        "poll_interval_s": 0.1,
        "first_retry_s": 0.2,
        "max_retry_delay_s": 0.5,
        "smtp": {**smtp, "from_address": "winjobs@example.com"},
        **notify,
    }
    return driver_settings(tmp_path / "data", port=0, notify=options)


def notifications(client: DriverClient, job_id: int) -> dict[str, NotificationInfo]:
    return {n.target: n for n in client.get_job(job_id).notifications}


def test_a_webhook_and_a_mail_tell_the_end_of_a_job(
    tmp_path: Path, mailbox: tuple[MailBox, int]
) -> None:
    box, smtp_port = mailbox
    receiver = start_receiver()
    try:
        with (
            RunningDriver(settings_for(tmp_path, smtp_port)) as running,
            DriverClient.connect(running.url, "alice-secret") as alice,
        ):
            targets = f"{receiver.url}\nmail:me@example.com"
            job_id = alice.submit_job(
                packed_study(tmp_path), JobSubmitFields(name="winter", notify=targets)
            ).job_id
            alice.cancel_job(job_id)

            headers, body = receiver.received.get(timeout=WAIT_S)
            expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert headers["X-Winjobs-Signature"] == f"sha256={expected}"
            assert headers["Content-Type"] == "application/json"
            data = json.loads(body)
            assert (data["id"], data["name"], data["owner"]) == (job_id, "winter", "alice")
            assert (data["status"], data["years"], data["years_total"]) == ("cancelled", "1-6", 6)
            assert data["job_url"] == f"http://driver.example.com:8000/api/v1/jobs/{job_id}"
            assert data["result_url"] is None and data["finished_at"] is not None

            recipients, mail = box.messages.get(timeout=WAIT_S)
            assert recipients == ["me@example.com"]
            assert mail["Subject"] == f"winjobs: job {job_id} (winter) cancelled"
            assert mail["From"] == "winjobs@example.com"
            text = mail.get_payload(decode=True)
            assert isinstance(text, bytes)
            assert f"Job {job_id} (winter), submitted by alice, ended cancelled." in text.decode()

            def all_sent() -> bool:
                rows = notifications(alice, job_id).values()
                return all(n.state == DeliveryState.SENT for n in rows)

            wait_until(all_sent, WAIT_S, "both notifications marked sent")
            assert receiver.received.empty(), "delivered once"
    finally:
        stop_receiver(receiver)


def test_dead_and_hanging_receivers_never_delay_the_queue_and_survive_a_restart(
    tmp_path: Path, mailbox: tuple[MailBox, int]
) -> None:
    _, smtp_port = mailbox
    dead_port = free_port()
    dead_url = f"http://127.0.0.1:{dead_port}/hook"
    hanging = start_receiver(hold=True)
    settings = settings_for(tmp_path, smtp_port, webhook_timeout_s=WAIT_S * 3, max_attempts=100)
    try:
        with RunningDriver(settings) as running:
            alice = DriverClient.connect(running.url, "alice-secret")
            archive = packed_study(tmp_path)
            ended = alice.submit_job(
                archive, JobSubmitFields(notify=f"{dead_url}\n{hanging.url}")
            ).job_id
            alice.cancel_job(ended)
            hanging.received.get(timeout=WAIT_S)  # the sender is now stuck in that POST

            worker = DriverClient.connect(running.url, "worker-secret", timeout=WAIT_S / 2)
            worker.register_worker(
                WorkerRegistration(name="w1", cores=2, os="Linux", versions=["8.8"])
            )
            waiting = alice.submit_job(archive, JobSubmitFields()).job_id
            task = worker.claim(ClaimRequest(free_cores=2, wait_s=0))
            assert task is not None and task.job_id == waiting
            assert alice.list_jobs().total == 2
            assert not hanging.release.is_set(), "answered while the receiver still hangs"
            hanging.release.set()

            def dead_retrying() -> NotificationInfo | None:
                row = notifications(alice, ended)[dead_url]
                return row if row.state == DeliveryState.RETRYING and row.attempts >= 2 else None

            row = wait_until(dead_retrying, WAIT_S, "the dead receiver's second failure")
            assert row.last_error is not None and row.last_error.startswith("ConnectError")
            assert row.next_attempt_at is not None
            sent = notifications(alice, ended)[hanging.url]
            assert (sent.state, sent.attempts) == (DeliveryState.SENT, 1)
            alice.close()
            worker.close()

        # the dead receiver comes back while the driver is down: the restarted driver
        # sends what it still owed (a retry delay of at most 0.5 s has passed by then)
        revived = start_receiver(port=dead_port)
        try:
            with (
                RunningDriver(settings) as running,
                DriverClient.connect(running.url, "alice-secret") as alice,
            ):
                _, body = revived.received.get(timeout=WAIT_S)
                assert json.loads(body)["id"] == ended
                wait_until(
                    lambda: notifications(alice, ended)[dead_url].state == DeliveryState.SENT,
                    WAIT_S,
                    "the owed notification marked sent",
                )
        finally:
            stop_receiver(revived)
    finally:
        stop_receiver(hanging)

"""What a job-end notification says: the job's summary, as a signed JSON body or a mail.

The summary is taken when the job ends (in the transaction that ends it) and kept on the
outbox row, so a retry hours later, or after a restart, sends the very same facts even if
the job was retried meanwhile. The links are added at sending time from `public_url`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from winjobs.driver.store.records import describe_years
from winjobs.wire import API_PREFIX, JobStatus

#: the header carrying the body's HMAC-SHA256: `sha256=<64 hex digits>`
SIGNATURE_HEADER = "X-Winjobs-Signature"
EVENT_HEADER = "X-Winjobs-Event"
EVENT = "job.ended"


def job_end_summary(
    *,
    job_id: int,
    name: str,
    owner: str,
    status: str,
    years: list[int],
    created_at: datetime,
    started_at: datetime | None,
    finished_at: datetime | None,
    reason: str | None,
    run_folder: str | None,
) -> dict[str, Any]:
    """The facts kept on the outbox row (JSON types only)."""
    ran = None
    if started_at is not None and finished_at is not None:
        ran = round((finished_at - started_at).total_seconds(), 3)
    return {
        "id": job_id,
        "name": name,
        "owner": owner,
        "status": status,
        "years": describe_years(years),  # 1-based, as users write them (`1-10, 15`)
        "years_total": len(years),
        "submitted_at": created_at.isoformat(),
        "started_at": None if started_at is None else started_at.isoformat(),
        "finished_at": None if finished_at is None else finished_at.isoformat(),
        "run_seconds": ran,
        "reason": reason,
        "run_folder": run_folder,
    }


def with_links(summary: dict[str, Any], public_url: str) -> dict[str, Any]:
    """The summary plus the event name and the job's links on this driver."""
    job_url = f"{public_url}{API_PREFIX}/jobs/{summary['id']}"
    succeeded = summary["status"] == JobStatus.SUCCEEDED.value
    return {
        "event": EVENT,
        **summary,
        "job_url": job_url,
        "result_url": f"{job_url}/result" if succeeded else None,
    }


def webhook_body(summary: dict[str, Any], public_url: str) -> bytes:
    """The exact bytes POSTed and signed (compact JSON, sorted keys, UTF-8)."""
    text = json.dumps(with_links(summary, public_url), sort_keys=True, separators=(",", ":"))
    return text.encode("utf-8")


def signature(secret: bytes, body: bytes) -> str:
    """The `X-Winjobs-Signature` value: HMAC-SHA256 of the body with the driver's secret."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def mail_message(
    summary: dict[str, Any], public_url: str, sender: str, recipient: str
) -> EmailMessage:
    """A plain-text mail with the same facts as the webhook body."""
    facts = with_links(summary, public_url)
    message = EmailMessage()
    message["Subject"] = f"winjobs: job {facts['id']} ({facts['name']}) {facts['status']}"
    message["From"] = sender
    message["To"] = recipient
    lines = [
        f"Job {facts['id']} ({facts['name']}), submitted by {facts['owner']}, "
        f"ended {facts['status']}.",
        "",
        f"years:       {facts['years']} ({facts['years_total']} in all)",
        f"submitted:   {facts['submitted_at']}",
        f"started:     {facts['started_at'] or '-'}",
        f"finished:    {facts['finished_at'] or '-'}",
        f"ran for:     {_seconds(facts['run_seconds'])}",
    ]
    if facts["reason"]:
        lines.append(f"reason:      {facts['reason']}")
    if facts["run_folder"]:
        lines.append(f"run folder:  {facts['run_folder']}")
    lines += ["", f"job:         {facts['job_url']}"]
    if facts["result_url"]:
        lines.append(f"result:      {facts['result_url']}  (or: winjobs download {facts['id']})")
    message.set_content("\n".join(lines) + "\n")
    return message


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"

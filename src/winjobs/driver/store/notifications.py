"""The sending half of the notification outbox: due rows out, attempts' outcomes in.

Each method is one short transaction; the sender never holds one while it talks to a
receiver, so a slow webhook or mail server cannot hold the database (or the queue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from winjobs.driver.models import Notification
from winjobs.driver.notify.policy import Delivery
from winjobs.driver.store.base import StoreBase
from winjobs.wire import DeliveryState

_WAITING = (DeliveryState.PENDING.value, DeliveryState.RETRYING.value)


@dataclass(frozen=True)
class DueNotification:
    id: int
    job_id: int
    target: str
    summary: dict[str, Any]
    attempts: int


class NotificationStore(StoreBase):
    def due_notifications(self, now: datetime, limit: int = 50) -> list[DueNotification]:
        """Rows waiting for an attempt whose time has come, oldest due first."""
        stmt = (
            select(
                Notification.id,
                Notification.job_id,
                Notification.target,
                Notification.summary,
                Notification.attempts,
            )
            .where(Notification.state.in_(_WAITING), Notification.next_attempt_at <= now)
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(limit)
        )
        with self._read() as conn:
            return [
                DueNotification(int(i), int(j), t, dict(s), int(a))
                for i, j, t, s, a in conn.execute(stmt)
            ]

    def record_delivery(self, notification_id: int, attempts_before: int, done: Delivery) -> bool:
        """Store an attempt's outcome; False if the row moved meanwhile (job removed)."""
        with self._write() as conn:
            changed = conn.execute(
                update(Notification)
                .where(
                    Notification.id == notification_id,
                    Notification.attempts == attempts_before,
                    Notification.state.in_(_WAITING),
                )
                .values(
                    state=done.state.value,
                    attempts=done.attempts,
                    next_attempt_at=done.next_attempt_at,
                    last_error=done.last_error,
                    sent_at=done.sent_at,
                )
            ).rowcount
        return bool(changed == 1)

    def job_notifications(self, job_id: int) -> list[Notification]:
        with self._session() as session:
            return list(
                session.scalars(
                    select(Notification)
                    .where(Notification.job_id == job_id)
                    .order_by(Notification.id)
                )
            )

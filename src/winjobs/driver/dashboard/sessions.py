"""Server-side sign-in sessions of the dashboard.

The browser holds only a random session id (256 bits) in an HttpOnly cookie, never the
token. The driver keeps, per session, who signed in, with which token (its digest, so a
token removed from the configuration ends its sessions), the session's CSRF token and
when it expires. Sessions are saved in `<data_dir>/dashboard/sessions.json` so that a
driver restart does not sign everybody out; the file is keyed by the sha256 of each id,
so reading it does not give anyone a usable cookie. Writes (sign-in, sign-out) replace
the file atomically; a damaged file costs only the sign-ins, never the driver.

Flash messages (what the last action did) live in memory only: they are read on the
next page and are worth nothing after a restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from winjobs.wire import Role

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
FILE_VERSION = 1


class FlashLevel(StrEnum):
    INFO = "info"
    ERROR = "error"


@dataclass(frozen=True)
class Flash:
    level: FlashLevel
    text: str


@dataclass(frozen=True)
class Session:
    name: str
    role: Role
    token_sha256: str  #: the token it was opened with; gone from the config = session over
    csrf_token: str  #: every form of this session carries it
    expires_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role.value,
            "token_sha256": self.token_sha256,
            "csrf_token": self.csrf_token,
            "expires_at": self.expires_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Session:
        return cls(
            name=str(data["name"]),
            role=Role(data["role"]),
            token_sha256=str(data["token_sha256"]),
            csrf_token=str(data["csrf_token"]),
            expires_at=datetime.fromisoformat(str(data["expires_at"])),
        )


def session_key(session_id: str) -> str:
    """What the server stores and looks up: the digest of the cookie's value."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


@dataclass
class SessionStore:
    """Thread-safe; loaded from `path` on first use."""

    path: Path
    lifetime: timedelta
    clock: Clock
    _sessions: dict[str, Session] | None = field(default=None, init=False)
    _flashes: dict[str, list[Flash]] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def open(self, name: str, role: Role, token_sha256: str) -> tuple[str, Session]:
        """A new session; returns the id for the cookie (known to nobody else)."""
        session_id = secrets.token_urlsafe(32)
        session = Session(
            name=name,
            role=role,
            token_sha256=token_sha256,
            csrf_token=secrets.token_urlsafe(32),
            expires_at=self.clock() + self.lifetime,
        )
        with self._lock:
            sessions = self._loaded()
            sessions[session_key(session_id)] = session
            self._save(sessions)
        return session_id, session

    def get(self, session_id: str) -> Session | None:
        """The live session with this id, or None (unknown, signed out or expired)."""
        key = session_key(session_id)
        with self._lock:
            session = self._loaded().get(key)
        if session is None or session.expires_at <= self.clock():
            return None
        return session

    def close(self, session_id: str) -> None:
        key = session_key(session_id)
        with self._lock:
            sessions = self._loaded()
            self._flashes.pop(key, None)
            if sessions.pop(key, None) is not None:
                self._save(sessions)

    def flash(self, session_id: str, level: FlashLevel, text: str) -> None:
        with self._lock:
            self._flashes.setdefault(session_key(session_id), []).append(Flash(level, text))

    def take_flashes(self, session_id: str) -> list[Flash]:
        with self._lock:
            return self._flashes.pop(session_key(session_id), [])

    def __len__(self) -> int:
        now = self.clock()
        with self._lock:
            return sum(1 for s in self._loaded().values() if s.expires_at > now)

    # ------------------------------------------------------------------ file

    def _loaded(self) -> dict[str, Session]:
        if self._sessions is None:
            self._sessions = self._read()
        return self._sessions

    def _read(self) -> dict[str, Session]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") != FILE_VERSION:
                raise ValueError(f"unknown version {data.get('version')!r}")
            return {key: Session.from_json(value) for key, value in data["sessions"].items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning(
                "dashboard sessions in %s unreadable (%s): everyone signs in again", self.path, exc
            )
            return {}

    def _save(self, sessions: dict[str, Session]) -> None:
        now = self.clock()
        for key in [k for k, s in sessions.items() if s.expires_at <= now]:
            del sessions[key]
        body = {
            "version": FILE_VERSION,
            "sessions": {key: session.to_json() for key, session in sessions.items()},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f"{self.path.name}.{secrets.token_hex(4)}.tmp")
        try:
            with partial.open("w", encoding="utf-8") as handle:
                json.dump(body, handle)
                handle.flush()
                os.fsync(handle.fileno())
            partial.replace(self.path)
        finally:
            partial.unlink(missing_ok=True)

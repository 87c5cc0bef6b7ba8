"""The server-side session store: ids, expiry, the file that survives restarts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from tests.unit.driver.helpers import FakeClock
from winjobs.driver.dashboard.sessions import Flash, FlashLevel, SessionStore, session_key
from winjobs.wire import Role


def store(path: Path, clock: FakeClock, hours: float = 2) -> SessionStore:
    return SessionStore(path=path, lifetime=timedelta(hours=hours), clock=clock)


def test_open_get_close(tmp_path: Path) -> None:
    clock = FakeClock()
    sessions = store(tmp_path / "s.json", clock)
    first, session = sessions.open("alice", Role.USER, "d" * 64)
    second, _ = sessions.open("alice", Role.USER, "d" * 64)
    assert first != second and len(first) >= 40
    assert sessions.get(first) == session
    assert session.expires_at == clock() + timedelta(hours=2)
    assert session.csrf_token and session.csrf_token != first
    sessions.close(first)
    assert sessions.get(first) is None and sessions.get(second) is not None
    assert sessions.get("made-up") is None


def test_sessions_expire(tmp_path: Path) -> None:
    clock = FakeClock()
    sessions = store(tmp_path / "s.json", clock, hours=1)
    session_id, _ = sessions.open("ops", Role.ADMIN, "d" * 64)
    clock.advance(3599)
    assert sessions.get(session_id) is not None
    clock.advance(1)
    assert sessions.get(session_id) is None
    assert len(sessions) == 0


def test_the_file_survives_a_restart_and_holds_no_usable_id(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "dashboard" / "s.json"
    session_id, session = store(path, clock).open("alice", Role.USER, "d" * 64)
    text = path.read_text(encoding="utf-8")
    assert session_id not in text
    assert session_key(session_id) in json.loads(text)["sessions"]
    again = store(path, clock)
    assert again.get(session_id) == session
    assert [p.name for p in path.parent.iterdir()] == ["s.json"]  # no temporary left


def test_expired_sessions_are_dropped_from_the_file(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "s.json"
    sessions = store(path, clock, hours=1)
    old, _ = sessions.open("alice", Role.USER, "d" * 64)
    clock.advance(7200)
    sessions.open("bob", Role.USER, "e" * 64)
    assert session_key(old) not in json.loads(path.read_text(encoding="utf-8"))["sessions"]


def test_a_damaged_file_signs_everybody_out_and_nothing_else(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "s.json"
    for damage in ("{not json", '{"version": 99, "sessions": {}}', '{"version": 1}', "[]"):
        path.write_text(damage, encoding="utf-8")
        sessions = store(path, clock)
        assert len(sessions) == 0
        session_id, _ = sessions.open("alice", Role.USER, "d" * 64)
        assert store(path, clock).get(session_id) is not None


def test_flashes_are_read_once(tmp_path: Path) -> None:
    sessions = store(tmp_path / "s.json", FakeClock())
    session_id, _ = sessions.open("alice", Role.USER, "d" * 64)
    sessions.flash(session_id, FlashLevel.INFO, "done")
    sessions.flash(session_id, FlashLevel.ERROR, "but")
    assert sessions.take_flashes(session_id) == [
        Flash(FlashLevel.INFO, "done"),
        Flash(FlashLevel.ERROR, "but"),
    ]
    assert sessions.take_flashes(session_id) == []
